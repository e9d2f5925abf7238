// The example storefront: an HTTP site (cpp-httplib) that embeds Herald.
//
// StorefrontSite owns the pieces a real site would: the Store (SQLite by
// default), the compiled catalog, a ContentSelector for ads and discount ads,
// a BasketPricer, and the catalog's conversion actions for CaptureResponse.
// Mount() adds its routes to an httplib::Server:
//
//   GET  /ads?page_group=Home&size=Banner&count=2&user=u1[&session=s1]
//            [&discounts=1][&at=RFC3339][&user.age=34&user.state=WA...][&context.device=mobile]
//        -> {"ads": [{"id", "name", "kind", "campaign", "html", "click_url", "image_url", "text", "href"}]}
//   GET  /click/{id}?user=u1&page_group=Home[&at=RFC3339]
//        -> records the click (RecordClick), remembers it for the user's basket
//           (click-required discounts), then 302 to the ad's click URL
//   POST /basket/price   body: herald.v1.Basket in proto JSON ("user" may be a
//        user id in "customerId": the user's clicks are added)
//        -> {"priced": herald.v1.PricedBasket JSON, "text": FormatPricedBasket}
//   POST /responses      body: herald.v1.InteractionRecord in proto JSON
//        -> the stored record (CaptureResponse)
//   GET  /delivery/{id}  -> {"id", "requests", "clicks"} (this server's view)
//   GET  /reports/{name}[?format=table|csv|json|html] -> a campaign report (herald/report.h)
//   GET  /               -> the shop page (www/index.html: three ad slots and a basket)
//
// Lifetime: create with StorefrontSite::Create; it must outlive the server
// it is mounted on. Thread-safety: the handlers run on httplib's thread pool;
// everything they touch is thread-safe.
#ifndef HERALD_EXAMPLES_STOREFRONT_SITE_H_
#define HERALD_EXAMPLES_STOREFRONT_SITE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "herald/campaign_cache.h"
#include "herald/discount.h"
#include "herald/registry.h"
#include "herald/selection.h"
#include "herald/store.h"
#include "httplib.h"

namespace storefront {

struct SiteOptions {
  std::string catalog_path;            // required
  std::string store_uri = "memory";    // "sqlite:PATH", "memory", "postgresql://..."
  std::string www_dir;                 // the static page; empty = no page
  bool local_landing = false;          // external click URLs redirect to /landing (no outside network)
  uint64_t seed = 0;                   // house-ad draws; 0 = from entropy
};

class StorefrontSite {
 public:
  static absl::StatusOr<std::unique_ptr<StorefrontSite>> Create(const SiteOptions& options);
  ~StorefrontSite();

  void Mount(httplib::Server& server);

  herald::ContentSelector& selector() { return *selector_; }
  herald::Store& store() { return *store_; }

 private:
  StorefrontSite() = default;
  void Ads(const httplib::Request& req, httplib::Response& res);
  void Click(const httplib::Request& req, httplib::Response& res);
  void Price(const httplib::Request& req, httplib::Response& res);
  void Responses(const httplib::Request& req, httplib::Response& res);
  void Report(const httplib::Request& req, httplib::Response& res);

  SiteOptions options_;
  herald::Registry registry_;
  herald::v1::Catalog catalog_;
  std::shared_ptr<const herald::CompiledCatalog> compiled_;
  std::unique_ptr<herald::Store> store_;
  std::unique_ptr<herald::ContentSelector> selector_;
  std::unique_ptr<herald::BasketPricer> pricer_;
  std::vector<herald::v1::ConversionAction> actions_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<std::string>> clicks_ ABSL_GUARDED_BY(mu_);  // user -> item ids
};

}  // namespace storefront

#endif  // HERALD_EXAMPLES_STOREFRONT_SITE_H_
