// Binding for the runtime: info(), thread and ISA settings, the memory pool.
#include <stdexcept>
#include <string>

#include "binding/common.h"
#include "binding/results.h"
#include "core/cpu_features.h"
#include "core/cuda_loader.h"
#include "core/dispatch.h"
#include "core/memory.h"
#include "core/parallel.h"

#ifndef FOVEAL_BUILD_ROUTE
#define FOVEAL_BUILD_ROUTE "unknown"
#endif

namespace foveal {
namespace binding {
namespace {

Napi::Array strings(Napi::Env env, const std::vector<std::string>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), v[i]);
  return a;
}

Napi::Object pool_stats(Napi::Env env) {
  ResultBook& book = ResultBook::of(env);
  book.sweep(env);  // what the last collection freed counts as returned
  const mem::Stats s = mem::stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("liveBytes", static_cast<double>(s.live_bytes));
  o.Set("cachedBytes", static_cast<double>(s.cached_bytes));
  o.Set("cacheLimit", static_cast<double>(s.cache_limit));
  o.Set("mappedBytes", static_cast<double>(s.mapped_bytes));
  o.Set("hugePageBytes", static_cast<double>(mem::huge_page_bytes()));
  o.Set("hits", static_cast<double>(s.hits));
  o.Set("misses", static_cast<double>(s.misses));
  const ResultBook::Counters& c = book.counters();
  Napi::Object r = Napi::Object::New(env);
  r.Set("lent", static_cast<double>(c.lent));
  r.Set("byDispose", static_cast<double>(c.by_dispose));
  r.Set("byGc", static_cast<double>(c.by_gc));
  r.Set("byFinalizer", static_cast<double>(c.by_finalizer));
  r.Set("outstanding", static_cast<double>(c.outstanding));
  r.Set("outstandingBytes", static_cast<double>(c.outstanding_bytes));
  r.Set("v8", static_cast<double>(c.v8_results));
  r.Set("reclaimOnGc", book.reclaims_on_gc());
  o.Set("results", r);
  return o;
}

Napi::Object cuda_info(Napi::Env env) {
  const cuda::Status& s = cuda::status();
  Napi::Object o = Napi::Object::New(env);
  o.Set("library", s.library);
  o.Set("built", s.built);
  o.Set("loaded", s.loaded);
  o.Set("usable", s.usable);
  if (s.runtime_version) {
    o.Set("runtimeVersion",
          std::to_string(s.runtime_version / 1000) + "." + std::to_string((s.runtime_version % 1000) / 10));
  }
  o.Set("reason", s.reason);
  Napi::Array devices = Napi::Array::New(env, s.devices.size());
  for (size_t i = 0; i < s.devices.size(); ++i) {
    const cuda::Device& d = s.devices[i];
    Napi::Object dev = Napi::Object::New(env);
    dev.Set("index", d.index);
    dev.Set("name", d.name);
    dev.Set("computeCapability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor));
    dev.Set("totalMemory", static_cast<double>(d.total_memory));
    devices.Set(static_cast<uint32_t>(i), dev);
  }
  o.Set("devices", devices);
  return o;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("buildRoute", FOVEAL_BUILD_ROUTE);
  o.Set("napiVersion", NAPI_VERSION);
#if defined(__clang__)
  o.Set("compiler", std::string("clang ") + __clang_version__);
#elif defined(__GNUC__)
  o.Set("compiler", std::string("gcc ") + __VERSION__);
#endif

  const CpuFeatures& f = cpu_features();
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("vendor", f.vendor);
  cpu.Set("brand", f.brand);
  cpu.Set("features", strings(env, cpu_feature_names(f)));
  o.Set("cpu", cpu);

  Napi::Object isa = Napi::Object::New(env);
  isa.Set("best", isa_name(best_isa()));
  isa.Set("active", isa_name(isa_limit()));
  std::vector<std::string> supported;
  for (Isa i : {Isa::generic, Isa::neon, Isa::avx2, Isa::avx512})
    if (isa_supported(i)) supported.emplace_back(isa_name(i));
  isa.Set("supported", strings(env, supported));
  if (!isa_env_note().empty()) isa.Set("note", isa_env_note());
  o.Set("isa", isa);

  Napi::Array kernels = Napi::Array::New(env);
  uint32_t k = 0;
  for (const KernelInfo& ki : registered_kernels()) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("name", ki.name);
    e.Set("variants", strings(env, ki.built));
    e.Set("active", ki.active);
    kernels.Set(k++, e);
  }
  o.Set("kernels", kernels);

  Napi::Object threads = Napi::Object::New(env);
  threads.Set("count", num_threads());
  threads.Set("default", default_num_threads());
  o.Set("threads", threads);
  o.Set("pool", pool_stats(env));
  o.Set("cuda", cuda_info(env));
  return o;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Args a(info, "setNumThreads", false);
  set_num_threads(static_cast<int>(a.integer(0, "n", 1, 1024)));
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), num_threads()); }

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "setIsa: isa must be a string");
  const std::string name = info[0].As<Napi::String>();
  Isa isa;
  if (name == "auto") isa = best_isa();
  else if (!parse_isa(name, &isa))
    throw Napi::RangeError::New(env,
                                "setIsa: isa must be one of auto, generic, neon, avx2, avx512, got '" + name + "'");
  if (!isa_supported(isa)) throw Napi::RangeError::New(env, "setIsa: this CPU does not support " + name);
  set_isa_limit(isa);
  return env.Undefined();
}

Napi::Value PoolStats(const Napi::CallbackInfo& info) { return pool_stats(info.Env()); }

Napi::Value SetPoolLimit(const Napi::CallbackInfo& info) {
  Args a(info, "setPoolLimit", false);
  mem::set_cache_limit(static_cast<size_t>(a.dim(0, "bytes")));
  return info.Env().Undefined();
}

Napi::Value TrimPool(const Napi::CallbackInfo& info) {
  ResultBook::of(info.Env()).sweep(info.Env(), true);
  mem::trim();
  return info.Env().Undefined();
}

// dispose(array): detaches the ArrayBuffer of a result foveal allocated and takes its
// memory back (after the Async ops that use it, if any). Returns whether it was a pool
// block. Anything else is left alone: a user's own arrays are never detached.
Napi::Value Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value v = info.Length() > 0 ? info[0] : env.Undefined();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "dispose: data must be a Float32Array");
  Napi::Value buffer = v.As<Napi::TypedArray>().ArrayBuffer();
  if (!buffer.IsArrayBuffer()) return Napi::Boolean::New(env, false);  // a SharedArrayBuffer is never foveal's
  Napi::ArrayBuffer ab = buffer.As<Napi::ArrayBuffer>();
  try {
    return Napi::Boolean::New(env, ResultBook::of(env).dispose(env, ab));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("dispose: ") + e.what());
  }
}

// Test hook for core/memory.h's debug check: a Scratch that asks for a slot this thread
// already holds, and the integer API asking for one a Scratch holds, the two nested reuses
// the check exists to catch. Returns what the check said for each ([] where it said
// nothing), or null in a build without the check. Touches nothing outside the calling
// thread's scratch.
Napi::Value ScratchCheckProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if FOVEAL_CHECK_SCRATCH
  Napi::Array said = Napi::Array::New(env);
  uint32_t n = 0;
  try {
    mem::Scratch<char> outer(mem::Slot::check_probe_a, 64);
    mem::Scratch<char> inner(mem::Slot::check_probe_b, 64);
  } catch (const std::logic_error& e) {
    said.Set(n++, e.what());
  }
  return said;
#else
  return env.Null();
#endif
}

Napi::Value IsDetached(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray())
    throw Napi::TypeError::New(env, "isDetached: data must be a typed array");
  bool detached = false;
  if (napi_is_detached_arraybuffer(env, info[0].As<Napi::TypedArray>().ArrayBuffer(), &detached) != napi_ok)
    throw Napi::Error::New(env, "isDetached: napi_is_detached_arraybuffer failed");
  return Napi::Boolean::New(env, detached);
}

}  // namespace

void InitInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
  exports.Set("poolStats", Napi::Function::New(env, PoolStats, "poolStats"));
  exports.Set("setPoolLimit", Napi::Function::New(env, SetPoolLimit, "setPoolLimit"));
  exports.Set("trimPool", Napi::Function::New(env, TrimPool, "trimPool"));
  exports.Set("dispose", Napi::Function::New(env, Dispose, "dispose"));
  exports.Set("isDetached", Napi::Function::New(env, IsDetached, "isDetached"));
  exports.Set("scratchCheckProbe", Napi::Function::New(env, ScratchCheckProbe, "scratchCheckProbe"));
}

}  // namespace binding
}  // namespace foveal
