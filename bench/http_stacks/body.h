// The fixed ~1 KB JSON body every candidate HTTP stack serves (the shape of a
// 3-slot /v1/ads:select response), so the stacks are compared on equal work.
#ifndef HERALD_BENCH_HTTP_STACKS_BODY_H_
#define HERALD_BENCH_HTTP_STACKS_BODY_H_
#include <string>
inline std::string FixedBody() {
  std::string body = R"({"winners":[)";
  for (int i = 0; i < 3; ++i) {
    if (i) body += ",";
    body += R"({"itemId":"ad-)" + std::to_string(1000 + i) +
            R"(","name":"Spring sale on blue paint, all sizes","campaignId":"spring-2026","kind":"paid","score":0.8731,)"
            R"("html":"<a href=\"/v1/clicks/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"><img src=\"https://cdn.example.com/ads/blue-paint-300x250.png\" alt=\"Blue paint\"></a>",)"
            R"("clickUrl":"/v1/clicks/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"})";
  }
  body += "]}";
  return body;
}
#endif
