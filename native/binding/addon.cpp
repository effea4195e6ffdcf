// The addon's entry point: one Init line per op family. Its only JS state is each
// environment's book of lent results (instance data), so it is context-aware and loads in
// any number of worker_threads.
#include <napi.h>

#include "binding/results.h"

namespace foveal {
namespace binding {
void InitInfo(Napi::Env env, Napi::Object exports);
void InitLinear(Napi::Env env, Napi::Object exports);
void InitConv(Napi::Env env, Napi::Object exports);
void InitPool(Napi::Env env, Napi::Object exports);
void InitActivation(Napi::Env env, Napi::Object exports);
void InitSoftmax(Napi::Env env, Napi::Object exports);
void InitElementwise(Napi::Env env, Napi::Object exports);
void InitNorm(Napi::Env env, Napi::Object exports);
void InitLoss(Napi::Env env, Napi::Object exports);
void InitDropout(Napi::Env env, Napi::Object exports);
void InitAttention(Napi::Env env, Napi::Object exports);
void InitConvert(Napi::Env env, Napi::Object exports);
void InitRandom(Napi::Env env, Napi::Object exports);
void InitOptim(Napi::Env env, Napi::Object exports);
void InitEmbedding(Napi::Env env, Napi::Object exports);
void InitGate(Napi::Env env, Napi::Object exports);
void InitLayout(Napi::Env env, Napi::Object exports);
}  // namespace binding
}  // namespace foveal

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace foveal::binding;
  ResultBook::install(env);
  InitInfo(env, exports);
  InitLinear(env, exports);
  InitConv(env, exports);
  InitPool(env, exports);
  InitActivation(env, exports);
  InitSoftmax(env, exports);
  InitElementwise(env, exports);
  InitNorm(env, exports);
  InitLoss(env, exports);
  InitDropout(env, exports);
  InitAttention(env, exports);
  InitConvert(env, exports);
  InitRandom(env, exports);
  InitOptim(env, exports);
  InitEmbedding(env, exports);
  InitGate(env, exports);
  InitLayout(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(foveal, Init)
