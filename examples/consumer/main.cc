// Selects one ad from a catalog with an installed Herald, with the PostgreSQL
// store registered beside the built-in ones (herald::store_postgres).
#include <iostream>

#include "herald/builtins.h"
#include "herald/campaign_cache.h"
#include "herald/selection.h"
#include "herald/store_postgres.h"
#include "herald/version.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: herald_consumer CATALOG\n";
    return 2;
  }
  herald::Registry registry;
  if (auto s = herald::RegisterBuiltins(&registry); !s.ok()) return 1;
  if (auto s = herald::RegisterPostgresStore(&registry); !s.ok()) {
    std::cerr << s.message() << "\n";
    return 1;
  }
  auto catalog = herald::CompiledCatalog::Load(argv[1]);
  if (!catalog.ok()) {
    std::cerr << catalog.status().message() << "\n";
    return 1;
  }
  herald::SelectorConfig config;
  config.registry = &registry;
  auto selector = herald::NewContentSelector(*catalog, config);
  if (!selector.ok()) {
    std::cerr << selector.status().message() << "\n";
    return 1;
  }
  herald::SelectionRequest request;
  request.page_groups = {"Home"};
  request.size = "Banner";
  request.record = false;
  auto result = (*selector)->Select(request);
  if (!result.ok() || result->winners.empty()) {
    std::cerr << (result.ok() ? "no winner" : std::string(result.status().message())) << "\n";
    return 1;
  }
  std::cout << "herald " << HERALD_VERSION_STRING << " winner: " << result->winners[0].item_id << "\n";
  return 0;
}
