#include "muster/domain/policy.hpp"
