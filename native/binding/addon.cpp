// The addon's entry point: one Init line per op family. The addon keeps no JS state
// outside its calls, so it is context-aware and loads in any number of worker_threads.
#include <napi.h>

namespace foveal {
namespace binding {
void InitInfo(Napi::Env env, Napi::Object exports);
void InitLinear(Napi::Env env, Napi::Object exports);
void InitAttention(Napi::Env env, Napi::Object exports);
}  // namespace binding
}  // namespace foveal

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace foveal::binding;
  InitInfo(env, exports);
  InitLinear(env, exports);
  InitAttention(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(foveal, Init)
