// The optimizer layer in one include: optimizers, parameter groups, lr schedules, clipping.
#pragma once

#include "optim/clip.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
