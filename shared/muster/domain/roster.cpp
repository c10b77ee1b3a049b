#include "muster/domain/roster.hpp"
