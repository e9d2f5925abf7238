-- wrk script: POST a small JSON request (the shape of /v1/ads:select).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"pageGroups":["home"],"size":"300x250","count":3,"userId":"u-1"}'
