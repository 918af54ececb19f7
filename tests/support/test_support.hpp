#pragma once
// What most tests need: scratch folders and files, and running programs.
#include "support/cli.hpp"
#include "support/files.hpp"
