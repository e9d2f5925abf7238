#!/usr/bin/env python3
"""Writes a catalog of N paid ads (default 10,000) for bench/serve_wrk.sh: 20
page groups, ad-level goals, a year-long schedule around today, a third of the
ads with a target group, the shape of bench_select's catalog.
Usage: serve_catalog.py OUT.textproto [ADS]"""
import datetime
import random
import sys

out, ads = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10000
rng = random.Random(ads)
today = datetime.date.today()
start, end = today - datetime.timedelta(days=180), today + datetime.timedelta(days=180)
lines = ['name: "serve-bench"', 'time_zone: "UTC"',
         'user_attributes { name: "age" type: VALUE_TYPE_INT }',
         'user_attributes { name: "state" type: VALUE_TYPE_STRING }',
         'context_attributes { name: "device" type: VALUE_TYPE_STRING }',
         'reference_tables {']
lines += [f'  page_groups {{ name: "pg{i}" }}' for i in range(20)]
lines += ['}',
          'target_groups { id: "adults" entries { action: TARGET_ACTION_REQUIRE expression: "user.age >= 18" } }',
          'target_groups { id: "wa" entries { action: TARGET_ACTION_TARGET boost: 1.5 expression: "user.state == \\"WA\\"" } }']
for c in range(ads // 10):
    lines.append(f'customers {{ id: "cust{c}" name: "Customer {c}" }}')
    lines.append(f'campaigns {{ id: "camp{c}" name: "Campaign {c}" customer_id: "cust{c}" '
                 f'start: "{start}" end: "{end}" goaling: GOALING_LEVEL_AD')
    for a in range(c * 10, c * 10 + 10):
        target = ['', ' target_group: "adults"', ' target_group: "wa"'][rng.randrange(3)]
        lines.append(f'  items {{ id: "ad{a}" name: "Ad number {a}" ad {{ type: AD_TYPE_PAID quantity: {1000 + rng.randrange(100000)}'
                     f' page_groups: "pg{rng.randrange(20)}"{target}'
                     f' display {{ image_url: "https://cdn.example.com/ads/ad{a}-300x250.png" click_url: "https://advertiser{c}.example.com/landing/ad{a}" }} }} }}')
    lines.append('}')
with open(out, 'w') as f:
    f.write('\n'.join(lines) + '\n')
