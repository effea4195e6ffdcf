// Binding for the runtime: info(), thread and ISA settings, the memory pool.
#include <string>

#include "binding/common.h"
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
  const mem::Stats s = mem::stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("liveBytes", static_cast<double>(s.live_bytes));
  o.Set("cachedBytes", static_cast<double>(s.cached_bytes));
  o.Set("cacheLimit", static_cast<double>(s.cache_limit));
  o.Set("hits", static_cast<double>(s.hits));
  o.Set("misses", static_cast<double>(s.misses));
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
    o.Set("runtimeVersion", std::to_string(s.runtime_version / 1000) + "." +
                                std::to_string((s.runtime_version % 1000) / 10));
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
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(env, "setIsa: isa must be a string");
  const std::string name = info[0].As<Napi::String>();
  Isa isa;
  if (name == "auto") isa = best_isa();
  else if (!parse_isa(name, &isa))
    throw Napi::RangeError::New(env, "setIsa: isa must be one of auto, generic, neon, avx2, avx512, got '" + name + "'");
  if (!isa_supported(isa))
    throw Napi::RangeError::New(env, "setIsa: this CPU does not support " + name);
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
  mem::trim();
  return info.Env().Undefined();
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
}

}  // namespace binding
}  // namespace foveal
