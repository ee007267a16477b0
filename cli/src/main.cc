// mashctl: the command line of MASH Exchange. Everything lives in the mash::cli library.
#include <iostream>
#include <string>
#include <vector>

#include "mash/cli/mashctl.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return mash::cli::RunMashctl(args, std::cout, std::cerr);
}
