/* herald/plugin_abi.h: the C ABI between Herald and loadable plugins.
 *
 * A plugin is a shared object (a CMake MODULE; see herald_add_plugin) that
 * includes only this header and exports exactly two symbols:
 *
 *     HERALD_PLUGIN_DEFINE_ABI_HASH()   (once, in one source file)
 *     HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void);
 *
 * The ABI is identified by the SHA-256 of this header (HERALD_PLUGIN_ABI_HASH,
 * generated into herald/plugin_abi_hash.h at build time): any change to this
 * file, comments included, is a new ABI. The host first calls
 * herald_plugin_abi_hash() and refuses a plugin built against any other hash,
 * or without the function, before calling anything else in it. It then calls
 * the entry point, checks `abi_version == HERALD_PLUGIN_ABI_VERSION` (the
 * ABI's generation, a human-readable name for it), and calls
 * `register_components` once, through which the plugin describes its
 * components. No C++ type, exception or allocator crosses this
 * boundary: strings are (pointer, length) or NUL-terminated UTF-8, and every
 * pointer's owner is stated where it appears.
 *
 * Families: ABI version 2 supports components of every pipeline family and
 * conversion destinations, each seeing its work through a view the host
 * fills for the length of one call:
 *   "selection"   (ads, discount ads)       herald_selection_view
 *   "basket"      (OrderDiscount pricing)   herald_basket_view
 *   "mail"        (DirectMailer batches)    herald_mail_view
 *   "conversion"  (export pipeline pages)   herald_conversion_view
 *   "destination" (where conversions go)    herald_destination_ops, whose
 *                 calls see events through herald_conversion_view
 * A component's config arrives as a JSON object text (the pipeline
 * definition's json_config, or "{}"; a destination's
 * destination_json_config).
 *
 * Thread-safety: `run` may be called concurrently from many threads on one
 * instance; a plugin keeps per-call state on the stack. `create` and
 * `destroy` are called from one thread at a time per instance.
 */
#ifndef HERALD_PLUGIN_ABI_H_
#define HERALD_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#include "herald/plugin_abi_hash.h" /* HERALD_PLUGIN_ABI_HASH */

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI's generation: a name for people and messages. Compatibility is
 * decided by HERALD_PLUGIN_ABI_HASH. */
#define HERALD_PLUGIN_ABI_VERSION 2u

#if defined(_WIN32)
#define HERALD_PLUGIN_EXPORT __declspec(dllexport)
#else
#define HERALD_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* The name of the exported entry point. */
#define HERALD_PLUGIN_ENTRY_SYMBOL "herald_plugin_entry"

/* The name of the exported function that returns the ABI hash the plugin was
 * built against (a NUL-terminated string in static storage). */
#define HERALD_PLUGIN_ABI_HASH_SYMBOL "herald_plugin_abi_hash"
typedef const char* (*herald_plugin_abi_hash_fn)(void);

#ifdef __cplusplus
#define HERALD_PLUGIN_EXTERN_C extern "C"
#else
#define HERALD_PLUGIN_EXTERN_C
#endif
/* Defines herald_plugin_abi_hash(), returning the hash of the header the
 * plugin is compiled with. Write it once, at file scope, in one source file. */
#define HERALD_PLUGIN_DEFINE_ABI_HASH()                                   \
  HERALD_PLUGIN_EXTERN_C HERALD_PLUGIN_EXPORT const char* herald_plugin_abi_hash(void) { \
    return HERALD_PLUGIN_ABI_HASH;                                        \
  }

/* Status codes returned across the boundary. */
typedef enum herald_code {
  HERALD_OK = 0,
  HERALD_INVALID_ARGUMENT = 3,
  HERALD_NOT_FOUND = 5,
  HERALD_FAILED_PRECONDITION = 9,
  HERALD_INTERNAL = 13
} herald_code;

/* An error sink owned by the host. A callee that fails calls
 * set(error, message) with a NUL-terminated UTF-8 message (copied by the
 * host; the callee keeps ownership of its buffer) and returns a non-OK code. */
typedef struct herald_error {
  void* host_data;
  void (*set)(struct herald_error* error, const char* message);
} herald_error;

/* A borrowed string, owned by the host (or, where a field says so, by the
 * plugin). One the host returns stays valid while the plugin's current call
 * (run, prepare, send_batch, ...) lasts, except that user_attr and
 * context_attr render into one buffer their next call reuses, and that a
 * conversion event's text changes when set_state, set_payload or
 * prepare_identity changes that event. Copy what must last longer. */
typedef struct herald_str {
  const char* data;
  size_t size;
} herald_str;

/* A typed profile or property value. Strings are borrowed as herald_str is. */
typedef enum herald_value_kind {
  HERALD_VALUE_STRING = 1,
  HERALD_VALUE_INT = 2,
  HERALD_VALUE_DOUBLE = 3,
  HERALD_VALUE_BOOL = 4,
  HERALD_VALUE_MONEY = 5 /* int_value minor units of `text` (ISO 4217 code) */
} herald_value_kind;

typedef struct herald_value {
  herald_value_kind kind;
  herald_str text;     /* STRING: the string; MONEY: the currency */
  int64_t int_value;   /* INT; MONEY: minor units; BOOL: 0 or 1 */
  double double_value; /* DOUBLE */
} herald_value;

/* A user's exposure to one ad (herald/selection.h Exposure). */
typedef struct herald_exposure {
  int32_t count;     /* in the request's session; without a session id, in all */
  int32_t today;     /* in all sessions, in the catalog's local day of the request */
  int32_t this_week; /* in all sessions, in the local week (Monday to Sunday) */
} herald_exposure;

/* The selection family's view of one request, valid only during `run`.
 * Candidate indexes are 0 .. candidate_count()-1 in the current order.
 * Item attributes: "id", "name", "campaign", "customer", "industry", "size",
 * "type" ("paid" / "house" / "discount"), "click_url", and display fields. */
typedef struct herald_selection_view {
  void* ctx; /* host-owned; pass back to each function */
  size_t (*candidate_count)(void* ctx);
  /* 1 and *out set when present, 0 when the attribute is absent. */
  int (*candidate_attr)(void* ctx, size_t index, const char* name, herald_str* out);
  double (*candidate_score)(void* ctx, size_t index);
  /* Multiplies the candidate's score (factor >= 0; 0 removes it for good) and
   * records `reason` (NUL-terminated, copied) in the trace when tracing. */
  void (*multiply_score)(void* ctx, size_t index, double factor, const char* reason);
  /* The request's user profile / context values rendered as text. */
  int (*user_attr)(void* ctx, const char* name, herald_str* out);
  int (*context_attr)(void* ctx, const char* name, herald_str* out);
  /* The request's page group and the number of winners requested. */
  herald_str (*page_group)(void* ctx);
  int32_t (*requested_count)(void* ctx);
  /* Nonzero when the request is traced (then reasons are worth building). */
  int (*tracing)(void* ctx);
  /* Numeric item attributes: "exposure_limit" (per session, or per user
   * without one; 0 = none), "max_per_day", "max_per_week" (frequency caps in
   * the catalog's local day and week; 0 = none), "weight" (house ads).
   * 1 and *out set when the name is known, 0 otherwise. */
  int (*candidate_number)(void* ctx, size_t index, const char* name, double* out);
  /* The user's exposure to the candidate's ad as LoadHistory loaded it:
   * 1 and *out set when the user has seen it, 0 when not (or when no
   * history was loaded). */
  int (*candidate_exposure)(void* ctx, size_t index, herald_exposure* out);
  /* The request's session id ("" when none: exposure counts then span all
   * sessions). */
  herald_str (*session_id)(void* ctx);
  /* The request's user profile value, typed. 1 and *out set when present
   * with a scalar kind (times, lists and maps are not given: 0). */
  int (*user_value)(void* ctx, const char* name, herald_value* out);
} herald_selection_view;

/* ---------------------------------------------------------------- basket
 * One Price() call, seen by a component of the basket pipeline. Amounts are
 * integers in the basket currency's minor units. Lines are 0 ..
 * line_count()-1 in basket order. In every view, an index out of range
 * reads as absent (0, "", a finished state) and changes nothing. */
typedef struct herald_basket_view {
  void* ctx; /* host-owned; pass back to each function */
  herald_str (*currency)(void* ctx);      /* ISO 4217 code of every amount */
  int32_t (*currency_digits)(void* ctx);  /* its minor-unit digits */
  /* The basket's user profile value (Basket.user), typed. 1 when present
   * with a scalar kind, as herald_selection_view.user_value. */
  int (*user_value)(void* ctx, const char* name, herald_value* out);
  size_t (*line_count)(void* ctx);
  /* Line attributes: "id", "product_id", "category", or a property name
   * (LineItem.properties). 1 and *out set when present. */
  int (*line_value)(void* ctx, size_t line, const char* name, herald_value* out);
  int64_t (*line_quantity)(void* ctx, size_t line);
  int64_t (*line_unit_price_minor)(void* ctx, size_t line);
  /* The line's total after the item and order discounts so far. */
  int64_t (*line_adjusted_total_minor)(void* ctx, size_t line);
  /* The subtotal after item discounts and the order discounts so far. */
  int64_t (*discounted_subtotal_minor)(void* ctx);
  /* The current shipping, after shipping discounts so far. */
  int64_t (*shipping_minor)(void* ctx);
  /* Adds an order-subtotal discount of `amount_minor` (capped at the
   * discounted subtotal), spread over the lines in proportion to their
   * adjusted totals by largest remainder, as the built-in order offers are.
   * `kind` is a herald.v1.OfferKind number (OFFER_KIND_ORDER_PERCENT_OFF =
   * 6, OFFER_KIND_ORDER_AMOUNT_OFF = 7); `coupon_code` may be empty. Sets
   * *applied to the amount taken off. Returns HERALD_OK, or
   * HERALD_INVALID_ARGUMENT after error->set (an empty discount_id, a kind
   * that is no OfferKind, a negative amount). Strings are copied. */
  herald_code (*add_subtotal_discount)(void* ctx, herald_str discount_id, herald_str name, int32_t kind,
                                       int64_t amount_minor, herald_str coupon_code, int64_t* applied,
                                       herald_error* error);
  /* Takes up to `amount_minor` off the current shipping (kind:
   * OFFER_KIND_FREE_SHIPPING = 4, OFFER_KIND_SHIPPING_PERCENT_OFF = 5); as
   * add_subtotal_discount otherwise. */
  herald_code (*add_shipping_discount)(void* ctx, herald_str discount_id, herald_str name, int32_t kind,
                                       int64_t amount_minor, herald_str coupon_code, int64_t* applied,
                                       herald_error* error);
  /* Adds a line to the explanation (PricedBasket.trace) when tracing;
   * strings are copied. */
  void (*note)(void* ctx, herald_str subject, herald_str verdict, herald_str reason, double value);
  int (*tracing)(void* ctx);
} herald_basket_view;

/* ---------------------------------------------------------------- mail
 * One batch of recipients of one mail job, seen by a component of the mail
 * pipeline. Items are 0 .. item_count()-1. */
typedef enum herald_mail_item_state {
  HERALD_MAIL_LIVE = 0,    /* still going through the pipeline */
  HERALD_MAIL_SENT = 1,
  HERALD_MAIL_FAILED = 2,
  HERALD_MAIL_SKIPPED = 3  /* opted out, invalid, filtered */
} herald_mail_item_state;

typedef struct herald_mail_view {
  void* ctx; /* host-owned; pass back to each function */
  size_t (*item_count)(void* ctx);
  /* The recipient's normalized address (the ledger key). */
  herald_str (*item_address)(void* ctx, size_t item);
  herald_mail_item_state (*item_state)(void* ctx, size_t item);
  /* The value of the recipient list's column `name` ("" when absent). */
  herald_str (*item_field)(void* ctx, size_t item, const char* name);
  /* Skips a live recipient: not mailed, counted in the job report under
   * `reason` (a report key: lowercase letters, digits, _; NULL or "" =
   * "filtered"), with `detail` (human text). Strings are copied. No-op on an
   * item that is not live. */
  void (*skip)(void* ctx, size_t item, const char* reason, const char* detail);
  /* Fails a live recipient for good (as skip otherwise; NULL or "" =
   * "failed"). */
  void (*fail)(void* ctx, size_t item, const char* reason, const char* detail);
  /* Nonzero for a test send (to the operator's own addresses: filters
   * that protect recipients let it through). */
  int (*test_send)(void* ctx);
  /* Adds a line to the job's trace when tracing (strings copied). */
  void (*note)(void* ctx, const char* subject, const char* verdict, const char* reason);
  int (*tracing)(void* ctx);
} herald_mail_view;

/* ---------------------------------------------------------------- conversion
 * Conversion events: one page of interaction history for one destination,
 * seen by a component of the conversion pipeline, or one batch seen by a
 * destination. Events are 0 .. event_count()-1. */
typedef enum herald_event_state {
  HERALD_EVENT_LIVE = 0,       /* still going */
  HERALD_EVENT_DELIVERED = 1,  /* acknowledged by the destination */
  HERALD_EVENT_DUPLICATE = 2,  /* the destination already had it */
  HERALD_EVENT_INVALID = 3,    /* set aside by validation */
  HERALD_EVENT_FAILED = 4,     /* permanently refused */
  HERALD_EVENT_TRANSIENT = 5,  /* failed transiently past the retries */
  HERALD_EVENT_SKIPPED = 6,    /* not a conversion */
  HERALD_EVENT_NO_CONSENT = 7  /* consent does not allow this destination */
} herald_event_state;

/* Identifier normalization rules (herald/conversion.h IdentityRules). */
typedef enum herald_identity_rules {
  HERALD_IDENTITY_META = 0,   /* Meta's: every identifier, phones as digits */
  HERALD_IDENTITY_GOOGLE = 1  /* Google Ads': email (gmail dots removed) and E.164 phone only */
} herald_identity_rules;

typedef struct herald_conversion_view {
  void* ctx; /* host-owned; pass back to each function */
  size_t (*event_count)(void* ctx);
  /* Text attributes of event `index`: "event_id", "order_id", "channel",
   * "outcome", "action.issue", "action.group", "action.name", "currency",
   * "reason", "detail", "payload"; after prepare_identity, the hashed
   * identifiers (64 hex digits, or absent) "identity.em", "identity.ph",
   * "identity.fn", "identity.ln", "identity.ct", "identity.st",
   * "identity.zp", "identity.country", "identity.db", "identity.ge",
   * "identity.external_id". 1 and *out set when present and not empty. */
  int (*event_text)(void* ctx, size_t index, const char* name, herald_str* out);
  /* Numeric attributes: "sequence", "time" (Unix seconds), "value_minor"
   * (when the record carries a value), "attempts". 1 when present. */
  int (*event_number)(void* ctx, size_t index, const char* name, int64_t* out);
  herald_event_state (*event_state)(void* ctx, size_t index);
  /* Sets the event's state (a herald_event_state value; any other number
   * is ignored) with `reason` (a category, "missing_identifier") and
   * `detail` (human text, never credentials); strings are copied. */
  void (*set_state)(void* ctx, size_t index, int32_t state, const char* reason, const char* detail);
  /* Normalizes and SHA-256 hashes the event's subject by `rules` (a
   * herald_identity_rules value; any other number reads as META; phones
   * without a country code read in `default_region`, ISO 3166-1 alpha-2, or
   * "" / NULL for none) into its identity, as the built-in destinations do. */
  void (*prepare_identity)(void* ctx, size_t index, int32_t rules, const char* default_region);
  /* Replaces the event's payload (the destination's serialized form of it);
   * the bytes are copied. */
  void (*set_payload)(void* ctx, size_t index, const char* data, size_t size);
  /* The run's clock for a conversion component and a destination's
   * validate; the current time in prepare and send_batch. Unix seconds. */
  int64_t (*now)(void* ctx);
  /* Adds a line to the run's trace when tracing (strings copied); a
   * destination's calls are not traced. */
  void (*note)(void* ctx, const char* subject, const char* verdict, const char* reason);
  int (*tracing)(void* ctx);
} herald_conversion_view;

/* How a destination's batch fared (herald/conversion.h BatchOutcome). Only
 * an answer that says which events were refused may fail events: anything
 * else is RETRYABLE. */
typedef enum herald_batch_outcome {
  HERALD_BATCH_ACCEPTED = 0,   /* per-event states were set (delivered / duplicate / failed) */
  HERALD_BATCH_RETRYABLE = 1,  /* nothing definite (429, 5xx, 3xx, 408, transport errors) */
  HERALD_BATCH_REJECTED = 2,   /* a definite refusal of the batch: the host splits it */
  HERALD_BATCH_TOO_LARGE = 3,  /* 413: the host splits it */
  HERALD_BATCH_FATAL = 4       /* authentication, configuration: stop the run */
} herald_batch_outcome;

/* Filled by send_batch. The host sets outcome to HERALD_BATCH_RETRYABLE and
 * the rest to zero before the call, so a send_batch that returns without
 * saying leaves the batch to be retried; an outcome that is not a
 * herald_batch_outcome value is taken as RETRYABLE. */
typedef struct herald_batch_result {
  int32_t outcome;           /* a herald_batch_outcome value */
  int32_t http_status;       /* 0 when there was no HTTP answer */
  int64_t retry_after_ms;    /* from Retry-After; 0 = none */
  /* The platform's message, never credentials: NUL-terminated, owned by the
   * plugin, read by the host before send_batch's next call on the instance. */
  const char* message;
} herald_batch_result;

/* A conversion audience member: SHA-256 hex digests or "". Consent values
 * are herald.v1.ConsentStatus numbers. */
typedef struct herald_audience_member {
  herald_str em, ph;
  int32_t ad_user_data, ad_personalization;
} herald_audience_member;

/* A destination's operations ("destination" family). Every event pointer
 * is a view valid only during the call. Calls on one instance come from one
 * thread at a time (the export run's). */
typedef struct herald_destination_ops {
  uint32_t struct_size; /* sizeof(herald_destination_ops) */
  /* Events per request at most (1 .. 10000) and the oldest event accepted,
   * in seconds (older ones are invalid, "too_old"). Required. */
  void (*limits)(void* instance, int32_t* max_batch_events, int64_t* max_age_seconds);
  /* Prepares every live event of the view: identity (prepare_identity) and
   * payload (set_payload); may set an event INVALID. Required. */
  void (*prepare)(void* instance, const herald_conversion_view* events);
  /* Marks invalid events (set_state INVALID, reason, detail). May be NULL. */
  void (*validate)(void* instance, const herald_conversion_view* events);
  /* Sends the view's events (all live and prepared, at most
   * max_batch_events). On ACCEPTED sets each event's state (DELIVERED,
   * DUPLICATE, FAILED, TRANSIENT); otherwise leaves them live. Required. */
  void (*send_batch)(void* instance, const herald_conversion_view* events, herald_batch_result* result);
  /* Adds members to the audience (created when missing); HERALD_OK once the
   * platform has them. NULL = the destination has no audiences. */
  herald_code (*add_audience_members)(void* instance, herald_str audience, const herald_audience_member* members,
                                      size_t count, herald_error* error);
  /* Writes a NUL-terminated one-line description, no credentials ("webhook
   * POST https://..."), into buffer (size bytes, truncated to fit). */
  void (*describe)(void* instance, char* buffer, size_t size);
} herald_destination_ops;

/* What create_in_context is given: the config and the host's services for
 * creating an instance. Valid only during that call. */
typedef struct herald_create_context {
  void* ctx;              /* host-owned; pass back to each function */
  herald_str config_json; /* a JSON object text */
  /* The folder relative paths in the config resolve against (the catalog's,
   * or the export jobs file's); "" = the working directory. */
  herald_str base_dir;
  /* Reads a secret (a token, a password) from the file `path` (relative to
   * base_dir unless absolute): its first line, trailing white space
   * removed. Refused, after error->set with a message that names the file
   * and never its content, unless the file is a regular file that only its
   * owner may access (mode 0600 or 0400) and its first line is not empty.
   * `what` names the secret in messages ("webhook bearer token"). On
   * HERALD_OK, *out stays valid until create_in_context returns: copy it. */
  herald_code (*read_secret)(void* ctx, const char* what, const char* path, herald_str* out, herald_error* error);
} herald_create_context;

/* One component a plugin offers. All strings are NUL-terminated and owned by
 * the plugin; they must stay valid until the plugin is unloaded (static
 * storage is the usual choice). */
typedef struct herald_component_desc {
  uint32_t struct_size;    /* sizeof(herald_component_desc) */
  const char* family;      /* "selection", "basket", "mail", "conversion" or "destination" */
  const char* name;        /* registered name, unique in the family */
  const char* description; /* one line, may be NULL */
  /* Creates an instance from `config_json` (a JSON object text, not
   * NUL-terminated, `config_size` bytes). Returns an opaque instance owned by
   * the host until it passes it to `destroy`, or NULL after error->set. */
  void* (*create)(const char* config_json, size_t config_size, herald_error* error);
  void (*destroy)(void* instance);
  /* Runs a pipeline component on one unit of work. `view` points to the
   * family's view: herald_selection_view ("selection": one request),
   * herald_basket_view ("basket": one basket), herald_mail_view ("mail": one
   * batch), herald_conversion_view ("conversion": one page). Returns
   * HERALD_OK or a code after error->set, which fails the unit of work as
   * the pipeline's error policy says. NULL for a destination. */
  herald_code (*run)(void* instance, const void* view, herald_error* error);
  /* Selection: the largest factor by which `run` can multiply any
   * candidate's score for this instance (1 for a component that never
   * raises a score), so that the selector may keep pruning the candidates
   * (docs/pacing.md, "Selecting without scoring everything"). NULL, or a
   * result that is not a finite number > 0, means unknown, which turns
   * pruning off for the pipelines that use the component. Other families:
   * NULL. */
  double (*max_score_multiplier)(void* instance);
  /* Added in ABI version 2; a plugin whose struct_size stops before them
   * (HERALD_COMPONENT_DESC_SIZE_V1) has them NULL.
   * The component's contract (herald/pipeline.h ComponentContract): the
   * facts it reads (written by earlier components: "candidates",
   * "history", "unit_awards", ...) and writes, each a NULL-terminated array
   * of NUL-terminated names in static storage. `reads` NULL = undeclared:
   * the pipeline is not checked after this component. */
  const char* const* reads;
  const char* const* writes;
  /* "destination" family: its operations (static storage); NULL otherwise. */
  const herald_destination_ops* destination;
  /* Creates an instance as `create` does, with the host's services (base
   * folder, secrets). When set, the host calls it instead of `create`,
   * which may then be NULL. */
  void* (*create_in_context)(const herald_create_context* context, herald_error* error);
} herald_component_desc;

/* The size of herald_component_desc in ABI version 1 (before
 * max_score_multiplier): a plugin source written for it still loads. */
#define HERALD_COMPONENT_DESC_SIZE_V1 offsetof(herald_component_desc, max_score_multiplier)

/* Given by the host to register_components. */
typedef struct herald_registrar {
  void* host_data;
  /* Copies what it needs from `desc` (the function pointers and strings must
   * live as long as the plugin is loaded). Returns HERALD_OK, or a code after
   * error->set (for example a duplicate name). */
  herald_code (*register_component)(struct herald_registrar* registrar,
                                    const herald_component_desc* desc, herald_error* error);
  uint32_t host_abi_version;
} herald_registrar;

typedef struct herald_plugin {
  uint32_t abi_version; /* HERALD_PLUGIN_ABI_VERSION the plugin was built with */
  const char* name;     /* plugin name, NUL-terminated, static */
  const char* version;  /* plugin's own version string, static */
  herald_code (*register_components)(herald_registrar* registrar, herald_error* error);
} herald_plugin;

/* The entry point every plugin exports. Returns a pointer to static storage. */
typedef const herald_plugin* (*herald_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HERALD_PLUGIN_ABI_H_ */
