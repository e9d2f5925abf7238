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
 * Families: ABI version 1 supports components of the "selection" family
 * (ads and discount ads), which see the request and candidates through
 * herald_selection_view. A component's config arrives as a JSON object text
 * (the pipeline definition's json_config, or "{}").
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
#define HERALD_PLUGIN_ABI_VERSION 1u

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

/* A borrowed string: valid until the call it was returned from ends. */
typedef struct herald_str {
  const char* data;
  size_t size;
} herald_str;

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
} herald_selection_view;

/* One component a plugin offers. All strings are NUL-terminated and owned by
 * the plugin; they must stay valid until the plugin is unloaded (static
 * storage is the usual choice). */
typedef struct herald_component_desc {
  uint32_t struct_size;    /* sizeof(herald_component_desc) */
  const char* family;      /* "selection" */
  const char* name;        /* registered name, unique in the family */
  const char* description; /* one line, may be NULL */
  /* Creates an instance from `config_json` (a JSON object text, not
   * NUL-terminated, `config_size` bytes). Returns an opaque instance owned by
   * the host until it passes it to `destroy`, or NULL after error->set. */
  void* (*create)(const char* config_json, size_t config_size, herald_error* error);
  void (*destroy)(void* instance);
  /* Runs the component on one request. `view` points to the family's view
   * (herald_selection_view for "selection"). Returns HERALD_OK or a code
   * after error->set. */
  herald_code (*run)(void* instance, const void* view, herald_error* error);
  /* Added after ABI version 1 was first released: read only when struct_size
   * covers it (HERALD_COMPONENT_DESC_SIZE_V1 is the size without it), so
   * plugins built before it still load. May be NULL.
   * Selection: the largest factor by which `run` can multiply any
   * candidate's score for this instance (1 for a component that never
   * raises a score), so that the selector may keep pruning the candidates
   * (docs/pacing.md, "Selecting without scoring everything"). NULL, or a
   * result that is not a finite number > 0, means unknown, which turns
   * pruning off for the pipelines that use the component. */
  double (*max_score_multiplier)(void* instance);
} herald_component_desc;

/* The size of herald_component_desc before max_score_multiplier. */
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
