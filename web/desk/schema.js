// Every field of the catalog model (include/herald/model/*.proto), as the
// forms show it. Names are the proto3 JSON names (lowerCamelCase); labels and
// help are the proto comments. Field types:
//   string, text (several lines), url, int (int32), int64, double, bool,
//   optbool (an `optional bool`: default / yes / no), enum, enums (repeated
//   enum: checkboxes), strings (repeated string: checkboxes of a reference
//   list when `ref` is set, else one per line), map (map<string,string>:
//   name=value per line), message, list (repeated message), oneof (one of
//   `options`, each a field), expr (a Herald expression, checked as typed:
//   `kind` "target" or "condition").
// `ref` names a reference list of the current catalog (see refsOf):
//   industries, pageGroups, sizes, customers, targetGroups; or of the
//   List Manager (screens/lists.js listRefs): recipientLists, optOutLists.
// `missing` says what a value the list does not have is (default "not in
// the catalog").

const e = (prefix, names) => ({ prefix, values: names.map((n) => `${prefix}${n}`) });

export const enums = {
  GoalingLevel: e('GOALING_LEVEL_', ['AD', 'CAMPAIGN']),
  GoalEvent: e('GOAL_EVENT_', ['REQUESTS', 'CLICKS']),
  AdType: e('AD_TYPE_', ['PAID', 'HOUSE']),
  DisplayType: e('DISPLAY_TYPE_', ['IMAGE', 'TEXT', 'HTML', 'NON_CLICKABLE_IMAGE', 'BUY_NOW', 'MEDIA', 'VIGNETTE']),
  TargetAction: e('TARGET_ACTION_', ['REQUIRE', 'EXCLUDE', 'TARGET', 'SPONSOR']),
  ConditionBasis: e('CONDITION_BASIS_', ['QUANTITY', 'VALUE']),
  OfferKind: e('OFFER_KIND_', ['PERCENT_OFF', 'AMOUNT_OFF', 'FIXED_PRICE', 'FREE_SHIPPING',
    'SHIPPING_PERCENT_OFF', 'ORDER_PERCENT_OFF', 'ORDER_AMOUNT_OFF']),
  AwardOrder: e('AWARD_ORDER_', ['MOST_EXPENSIVE_FIRST', 'LEAST_EXPENSIVE_FIRST']),
  MailFormat: e('MAIL_FORMAT_', ['TEXT', 'MIME', 'MHTML']),
  DayOfWeek: { prefix: '', values: ['MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY', 'SUNDAY'] },
  ValueType: e('VALUE_TYPE_', ['STRING', 'INT', 'DOUBLE', 'BOOL', 'MONEY', 'TIMESTAMP', 'STRING_LIST', 'MAP']),
};

// "OFFER_KIND_PERCENT_OFF" -> "percent off"
export function enumLabel(enumName, value) {
  const { prefix } = enums[enumName];
  return String(value).slice(prefix.length).toLowerCase().replace(/_/g, ' ');
}

const DATE_HELP = '"YYYY-MM-DD[THH:MM[:SS]]" in the catalog time zone';

export const messages = {
  Customer: [
    { name: 'id', label: 'Id', type: 'string', key: true, help: 'unique in the catalog; campaigns name it' },
    { name: 'name', label: 'Name', type: 'string', help: 'display name (reports)' },
    { name: 'url', label: 'Web site', type: 'url', help: "the customer's web site, for people" },
    { name: 'industry', label: 'Industry', type: 'string', ref: 'industries', help: 'default industry code for its ads' },
    { name: 'competitors', label: 'Competitors', type: 'strings', ref: 'customers',
      help: 'customers whose ads never share a page with this customer\'s' },
    { name: 'contactName', label: 'Contact', type: 'string', help: 'who to talk to at the customer' },
    { name: 'contactEmail', label: 'Contact e-mail', type: 'string', help: 'their address (name@domain)' },
    { name: 'contactPhone', label: 'Contact phone', type: 'string', help: 'their telephone number, as written' },
    { name: 'billingAddress', label: 'Billing address', type: 'message', of: 'PostalAddress', help: 'where invoices go' },
  ],
  PostalAddress: [
    { name: 'lines', label: 'Street lines', type: 'strings', help: 'street, building, ... one per line' },
    { name: 'locality', label: 'City or town', type: 'string' },
    { name: 'region', label: 'State, province or county', type: 'string' },
    { name: 'postalCode', label: 'Postal code', type: 'string', help: 'as the country writes it' },
    { name: 'countryCode', label: 'Country', type: 'string', help: 'ISO 3166-1 alpha-2 ("US", "FR")' },
  ],
  Campaign: [
    { name: 'id', label: 'Id', type: 'string', key: true, help: 'unique in the catalog; reports name it' },
    { name: 'name', label: 'Name', type: 'string', help: 'display name' },
    { name: 'customerId', label: 'Customer', type: 'string', ref: 'customers', help: 'the customer the campaign is for' },
    { name: 'start', label: 'Start', type: 'string', help: DATE_HELP },
    { name: 'end', label: 'End', type: 'string', help: 'inclusive end date (or exact end time)' },
    { name: 'goaling', label: 'Goaling', type: 'enum', of: 'GoalingLevel', dflt: 'ad',
      help: 'per-ad goal, or the campaign quantity split over its paid ads by weight (use the goaling switch to convert)' },
    { name: 'quantityOrdered', label: 'Quantity ordered', type: 'int64', help: 'campaign-level goaling: events ordered for the campaign' },
    { name: 'goalEvent', label: 'Goal event', type: 'enum', of: 'GoalEvent', dflt: 'requests', help: 'what the goal counts' },
    { name: 'active', label: 'Active', type: 'optbool', dflt: true },
  ],
  CampaignItem: [
    { name: 'id', label: 'Id', type: 'string', key: true, help: 'unique in the catalog; events, history and reports name it' },
    { name: 'name', label: 'Name', type: 'string', help: 'display name (traces, reports)' },
    { name: 'active', label: 'Active', type: 'optbool', dflt: true },
    { name: 'kind', label: 'Kind', type: 'oneof', options: [
      { name: 'ad', label: 'Ad', type: 'message', of: 'Ad' },
      { name: 'discount', label: 'Discount', type: 'message', of: 'Discount' },
      { name: 'directMail', label: 'Direct mail', type: 'message', of: 'DirectMail' },
    ] },
  ],
  Ad: [
    { name: 'type', label: 'Type', type: 'enum', of: 'AdType', dflt: 'paid', help: 'paid ads are delivered to meet their goals; house ads fill what is left' },
    { name: 'weight', label: 'Weight', type: 'double', help: 'house ads: relative probability; paid, campaign-level: share of the campaign quantity' },
    { name: 'quantity', label: 'Quantity', type: 'int64', help: 'paid, ad-level goaling: events ordered for this ad' },
    { name: 'exposureLimit', label: 'Exposure limit', type: 'int', help: 'times one user may see it in one session (or in all, without a session id); 0 = unlimited' },
    { name: 'maxPerDay', label: 'Most per day', type: 'int', help: 'times one user may see it per local day; 0 = unlimited' },
    { name: 'maxPerWeek', label: 'Most per week', type: 'int', help: 'times one user may see it per local week (Monday to Sunday); 0 = unlimited' },
    { name: 'industry', label: 'Industry', type: 'string', ref: 'industries', help: "empty = the customer's, or none" },
    { name: 'size', label: 'Size', type: 'string', ref: 'sizes', help: 'content size; empty = any size' },
    { name: 'pageGroups', label: 'Page groups', type: 'strings', ref: 'pageGroups', help: 'none checked = every page group' },
    { name: 'targetGroup', label: 'Target group', type: 'string', ref: 'targetGroups', help: 'empty = everyone' },
    { name: 'sponsored', label: 'Sponsored', type: 'optbool', dflt: 'only by its own group',
      help: "unset: sponsored when a SPONSOR entry of its own target group matches; yes: also when another group's matched; no: never" },
    { name: 'schedule', label: 'Schedule', type: 'message', of: 'Schedule', help: "empty dates = the campaign's" },
    { name: 'display', label: 'Display', type: 'message', of: 'Display' },
  ],
  Display: [
    { name: 'type', label: 'Display type', type: 'enum', of: 'DisplayType', dflt: 'inferred: HTML if html is set, text if only text, else image' },
    { name: 'imageUrl', label: 'Image URL', type: 'string' },
    { name: 'altText', label: 'Alternative text', type: 'string', help: "the image's alternative text" },
    { name: 'clickUrl', label: 'Click URL', type: 'string', help: "where a click leads (the advertiser's page)" },
    { name: 'text', label: 'Text', type: 'text' },
    { name: 'html', label: 'HTML', type: 'text' },
    { name: 'template', label: 'Template', type: 'text', help: "{{name}} placeholders; empty = the component's default for the type" },
    { name: 'fields', label: 'Template fields', type: 'map', help: 'one name=value a line, for {{name}}' },
    { name: 'basketText', label: 'Basket text', type: 'string', help: 'discounts: the text shown in the basket' },
  ],
  Schedule: [
    { name: 'start', label: 'First date', type: 'string', help: "empty = the campaign's start" },
    { name: 'end', label: 'Last date', type: 'string', help: "inclusive; empty = the campaign's end" },
    { name: 'days', label: 'Days', type: 'enums', of: 'DayOfWeek', help: 'none checked = every day' },
    { name: 'hours', label: 'Hours', type: 'list', of: 'HourWindow', itemLabel: 'Window', help: 'none = all day' },
    { name: 'timeZone', label: 'Time zone', type: 'string', help: "IANA name; empty = the catalog's" },
  ],
  HourWindow: [
    { name: 'from', label: 'From', type: 'string', input: 'time', help: '"HH:MM", the first minute' },
    { name: 'to', label: 'To', type: 'string', input: 'time', help: '"HH:MM", the first minute after (excluded)' },
  ],
  TargetGroup: [
    { name: 'id', label: 'Id', type: 'string', key: true, help: 'unique in the catalog; items name it' },
    { name: 'name', label: 'Name', type: 'string', help: 'display name (traces)' },
    { name: 'entries', label: 'Entries', type: 'list', of: 'TargetEntry', itemLabel: 'Entry', help: 'all applied: their multipliers multiply' },
  ],
  TargetEntry: [
    { name: 'action', label: 'Action', type: 'enum', of: 'TargetAction', dflt: 'target',
      help: 'require: 1 on match, else 0; exclude: 0 on match; target: boost on match; sponsor: only sponsored items stay eligible' },
    { name: 'expression', label: 'Expression', type: 'expr', kind: 'target', help: 'over user, context and now' },
    { name: 'boost', label: 'Boost', type: 'double', help: "target: multiplier on match; 0 = the selector's default (1.2)" },
  ],
  Discount: [
    { name: 'priority', label: 'Priority', type: 'int', help: 'smaller applies first' },
    { name: 'condition', label: 'Condition (buy)', type: 'message', of: 'DiscountCondition' },
    { name: 'award', label: 'Award (get)', type: 'message', of: 'DiscountAward' },
    { name: 'offer', label: 'Offer', type: 'message', of: 'Offer' },
    { name: 'awardOrder', label: 'Award order', type: 'enum', of: 'AwardOrder', dflt: 'most expensive first' },
    { name: 'eligibility', label: 'Eligibility', type: 'expr', kind: 'target', help: 'over user, context and now; empty = everyone' },
    { name: 'clickRequired', label: 'Click required', type: 'bool', help: "applies only when the basket's clicked items name it" },
    { name: 'couponCodes', label: 'Coupon codes', type: 'strings', help: 'one a line; empty = no code needed' },
    { name: 'couponLimits', label: 'Coupon limits', type: 'message', of: 'CouponLimits' },
    { name: 'basketLimit', label: 'Basket limit', type: 'int', help: 'applications per basket; 0 = unlimited' },
    { name: 'schedule', label: 'Schedule', type: 'message', of: 'Schedule', help: "empty dates = the campaign's" },
    { name: 'pageGroups', label: 'Page groups (its ad)', type: 'strings', ref: 'pageGroups', help: 'none checked = every page group' },
    { name: 'targetGroup', label: 'Target group (its ad)', type: 'string', ref: 'targetGroups', help: 'empty = everyone' },
    { name: 'size', label: 'Size (its ad)', type: 'string', ref: 'sizes', help: 'empty = any size' },
    { name: 'exposureLimit', label: 'Exposure limit (its ad)', type: 'int', help: '0 = unlimited' },
    { name: 'display', label: 'Display', type: 'message', of: 'Display' },
  ],
  DiscountCondition: [
    { name: 'expression', label: 'Products', type: 'expr', kind: 'condition', help: 'over product; empty = any product' },
    { name: 'basis', label: 'Basis', type: 'enum', of: 'ConditionBasis', dflt: 'quantity' },
    { name: 'minQuantity', label: 'Units', type: 'int64', help: 'quantity: units consumed per application; 0 = buy anything' },
    { name: 'minValueMinor', label: 'Value (minor units)', type: 'int64', help: 'value: minor units of matching units consumed per application' },
  ],
  DiscountAward: [
    { name: 'expression', label: 'Products', type: 'expr', kind: 'condition', help: 'which units get the offer; empty = any product' },
    { name: 'maxUnits', label: 'Units per application', type: 'int64', help: '0 = 1' },
  ],
  Offer: [
    { name: 'kind', label: 'Offer kind', type: 'enum', of: 'OfferKind', dflt: 'none (required)' },
    { name: 'percent', label: 'Percent', type: 'double', help: 'percent kinds: over 0, at most 100, two decimals' },
    { name: 'amountMinor', label: 'Amount (minor units)', type: 'int64', help: 'amount off, fixed price, order amount off' },
    { name: 'currency', label: 'Currency', type: 'string', help: 'of the amount' },
  ],
  CouponLimits: [
    { name: 'maxUses', label: 'Uses per code', type: 'int64', help: 'across all customers; 0 = unlimited' },
    { name: 'maxUsesPerCustomer', label: 'Uses per customer', type: 'int64', help: '0 = unlimited' },
  ],
  DirectMail: [
    { name: 'recipients', label: 'Recipients', type: 'message', of: 'RecipientSource', keep: true },
    { name: 'optOutList', label: 'Opt-out list file', type: 'string', help: 'item-level: a file of addresses' },
    { name: 'optOutStoreList', label: 'Opt-out list (List Manager)', type: 'string', ref: 'optOutLists', missing: 'no such list',
      help: 'item-level: an opt-out list kept in the store' },
    { name: 'message', label: 'Message', type: 'message', of: 'MessageSource', keep: true },
    { name: 'format', label: 'Format', type: 'enum', of: 'MailFormat', dflt: 'MIME' },
    { name: 'from', label: 'From', type: 'string', help: '"Name <address>" or an address (required)' },
    { name: 'replyTo', label: 'Reply-To', type: 'string' },
    { name: 'subject', label: 'Subject', type: 'string', help: 'used when the message source has none' },
    { name: 'startTime', label: 'Start time', type: 'string', help: '"YYYY-MM-DDTHH:MM"; empty = when started' },
    { name: 'charsetColumn', label: 'Charset column', type: 'string', help: 'recipient column naming the charset; empty = UTF-8' },
    { name: 'messagesPerHour', label: 'Messages per hour', type: 'int64', help: '0 = as fast as possible' },
    { name: 'maxErrorPercent', label: 'Most errors (%)', type: 'double', help: "abort when exceeded; 0 = the mailer's default (10)" },
    { name: 'retries', label: 'Retries', type: 'int', help: "4xx retries; 0 = the mailer's default (3)" },
    { name: 'unsubscribeUrl', label: 'Unsubscribe URL', type: 'string', help: 'https base for List-Unsubscribe' },
    { name: 'unsubscribeMailto', label: 'Unsubscribe mailto', type: 'string' },
    { name: 'attachments', label: 'Attachments', type: 'list', of: 'Attachment', itemLabel: 'Attachment' },
  ],
  RecipientSource: [
    { name: 'kind', label: 'Source', type: 'oneof', options: [
      { name: 'csvPath', label: 'CSV file', type: 'string', help: 'with a header row and an "email" column' },
      { name: 'storeTable', label: 'Store table', type: 'string' },
      { name: 'plugin', label: 'Plugin', type: 'string', help: 'a registered recipient source' },
      { name: 'storeList', label: 'Recipient list (List Manager)', type: 'string', ref: 'recipientLists', missing: 'no such list',
        help: 'a recipient list kept in the store (List Manager)' },
    ] },
  ],
  MessageSource: [
    { name: 'kind', label: 'Source', type: 'oneof', options: [
      { name: 'template', label: 'Template', type: 'message', of: 'MailTemplate' },
      { name: 'url', label: 'URL', type: 'string', help: 'fetched once per recipient' },
      { name: 'file', label: 'File', type: 'string', help: 'loaded once (not personalized)' },
    ] },
  ],
  MailTemplate: [
    { name: 'subject', label: 'Subject', type: 'string', help: "{{field}} placeholders from the recipient's columns" },
    { name: 'text', label: 'Text body', type: 'text' },
    { name: 'html', label: 'HTML body', type: 'text' },
  ],
  Attachment: [
    { name: 'path', label: 'Path', type: 'string', help: "relative to the catalog's directory" },
    { name: 'contentType', label: 'Content type', type: 'string', help: 'empty = guessed' },
    { name: 'filename', label: 'File name', type: 'string', help: "empty = the path's" },
    { name: 'contentId', label: 'Content-ID', type: 'string', help: 'MHTML: cid: reference' },
  ],
  ReferenceTables: [
    { name: 'contentSizes', label: 'Content sizes', type: 'list', of: 'ContentSize', itemLabel: 'Size', help: 'empty = the IAB defaults' },
    { name: 'industries', label: 'Industry codes', type: 'list', of: 'IndustryCode', itemLabel: 'Industry' },
    { name: 'pageGroups', label: 'Page groups', type: 'list', of: 'PageGroup', itemLabel: 'Page group' },
  ],
  ContentSize: [
    { name: 'name', label: 'Name', type: 'string' },
    { name: 'width', label: 'Width (px)', type: 'int' },
    { name: 'height', label: 'Height (px)', type: 'int' },
  ],
  IndustryCode: [
    { name: 'code', label: 'Code', type: 'string' },
    { name: 'description', label: 'Description', type: 'string' },
  ],
  PageGroup: [
    { name: 'name', label: 'Name', type: 'string' },
    { name: 'description', label: 'Description', type: 'string' },
  ],
  // The catalog's own fields; its lists of objects have their own screens.
  CatalogSettings: [
    { name: 'name', label: 'Catalog name', type: 'string' },
    { name: 'timeZone', label: 'Time zone', type: 'string', help: 'IANA name for schedules and reports; empty = UTC' },
    { name: 'currency', label: 'Currency', type: 'string', help: 'default currency; empty = USD' },
    { name: 'siteOptOutList', label: 'Site opt-out list file', type: 'string', help: 'for direct mail: a file of addresses' },
    { name: 'siteOptOutStoreList', label: 'Site opt-out list (List Manager)', type: 'string', ref: 'optOutLists', missing: 'no such list',
      help: 'for direct mail: an opt-out list kept in the store, applied to every direct-mail item' },
    { name: 'userAttributes', label: 'User attributes (user.*)', type: 'list', of: 'AttributeDecl', itemLabel: 'Attribute' },
    { name: 'contextAttributes', label: 'Context attributes (context.*)', type: 'list', of: 'AttributeDecl', itemLabel: 'Attribute' },
    { name: 'productAttributes', label: 'Product attributes (product.*)', type: 'list', of: 'AttributeDecl', itemLabel: 'Attribute' },
    { name: 'actions', label: 'Conversion actions', type: 'list', of: 'ConversionAction', itemLabel: 'Action' },
  ],
  AttributeDecl: [
    { name: 'name', label: 'Name', type: 'string' },
    { name: 'type', label: 'Type', type: 'enum', of: 'ValueType', dflt: 'none' },
    { name: 'mapValueType', label: 'Map value type', type: 'enum', of: 'ValueType', dflt: 'none', help: 'map attributes only' },
  ],
  ConversionAction: [
    { name: 'issue', label: 'Issue', type: 'string' },
    { name: 'group', label: 'Group', type: 'string' },
    { name: 'name', label: 'Name', type: 'string' },
    { name: 'paidSyncEnabled', label: 'Paid sync enabled', type: 'bool', help: 'accepted responses may be sent to ad platforms' },
    { name: 'offlineConversionEnabled', label: 'Offline conversion enabled', type: 'optbool', dflt: 'as paid sync' },
    { name: 'metaEventName', label: 'Meta event name', type: 'string', help: 'default "Purchase"' },
    { name: 'googleConversionAction', label: 'Google conversion action', type: 'string', help: '"customers/{cid}/conversionActions/{id}"' },
    { name: 'googleConversionName', label: 'Google conversion name', type: 'string' },
  ],
};

// The IAB sizes a catalog without content sizes uses: DefaultContentSizes()
// in lib/core/catalog.cc (keep the two in step).
export const kIabSizes = [
  ['Banner', 468, 60], ['Half Banner', 234, 60], ['Micro Bar', 88, 31], ['Button 1', 120, 90],
  ['Button 2', 120, 60], ['Vertical Banner', 120, 240], ['Square Button', 125, 125],
  ['Leaderboard', 728, 90], ['Wide Skyscraper', 160, 600], ['Skyscraper', 120, 600],
  ['Half Page', 300, 600], ['Medium Rectangle', 300, 250], ['Large Rectangle', 336, 280],
  ['Rectangle', 180, 150], ['Mobile Banner', 320, 50], ['Billboard', 970, 250],
].map(([name, width, height]) => ({ name, width, height }));

// The reference lists of a catalog, as [{value, label}] for the forms.
export function refsOf(catalog) {
  const rt = catalog.referenceTables || {};
  const sizes = (rt.contentSizes && rt.contentSizes.length) ? rt.contentSizes : kIabSizes;
  return {
    industries: (rt.industries || []).map((i) => ({ value: i.code, label: i.description ? `${i.code} (${i.description})` : i.code })),
    pageGroups: (rt.pageGroups || []).map((p) => ({ value: p.name, label: p.name })),
    sizes: sizes.map((s) => ({ value: s.name, label: `${s.name} (${s.width || 0}×${s.height || 0})` })),
    customers: [...(catalog.customers || [])]
      .sort((a, b) => String(a.name || a.id).localeCompare(String(b.name || b.id)))
      .map((c) => ({ value: c.id, label: c.name ? `${c.name} (${c.id})` : c.id })),
    targetGroups: (catalog.targetGroups || []).map((t) => ({ value: t.id, label: t.name ? `${t.name} (${t.id})` : t.id })),
  };
}
