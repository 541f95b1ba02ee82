#include "support/temp_dir.h"

#include <stdlib.h>

#include <cstdlib>
#include <stdexcept>

namespace parti::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "parti-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  if (std::getenv("PARTI_TEST_KEEP")) return;  // kept for a post-mortem of a failed run
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace parti::testing
