#include "muster/base/timezone.hpp"
