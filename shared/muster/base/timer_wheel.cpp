#include "muster/base/timer_wheel.hpp"
