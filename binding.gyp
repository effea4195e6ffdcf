# The node-gyp route: the CPU addon (what node-gyp-build falls back to when no prebuilt
# binary fits), and, when nvcc is found, the CUDA library beside it. Sources come from
# native/sources.js, the list CMakeLists.txt reads too.
{
  'variables': {
    'foveal_nvcc%': '<!(node scripts/nvcc.js)',
  },
  'targets': [
    {
      'target_name': 'foveal',
      'sources': ['<!@(node native/sources.js addon)'],
      'include_dirs': [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        'native',
      ],
      'defines': [
        'NAPI_VERSION=8',
        'NAPI_CPP_EXCEPTIONS',
        'NODE_ADDON_API_DISABLE_DEPRECATED',
        # A worker terminated while it calls into the addon (or while an Async op settles)
        # can no longer throw into JS: without this node-addon-api turns that failed throw
        # into a C++ throw out of a noexcept callback, and the whole process aborts.
        'NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS',
        'FOVEAL_BUILD_ROUTE="node-gyp"',
      ],
      # -O3 and no -ffast-math: kernels must keep NaN/Inf semantics (masked attention rows
      # are -Infinity by contract). ISA variants add their own targets (core/isa.h).
      'cflags!': ['-fno-exceptions', '-O2', '-O0'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17', '-std=gnu++20', '-O2', '-O0'],
      'cflags': ['-O3', '-fvisibility=hidden'],
      'cflags_cc': ['-std=c++17', '-O3', '-fexceptions', '-frtti', '-fvisibility=hidden',
                    '-Wall', '-Wextra', '-Wno-unused-parameter'],
      'ldflags': ['-Wl,--exclude-libs,ALL'],
      'libraries': ['-ldl', '-lpthread'],
      'xcode_settings': {
        'GCC_ENABLE_CPP_EXCEPTIONS': 'YES',
        'CLANG_CXX_LIBRARY': 'libc++',
        'CLANG_CXX_LANGUAGE_STANDARD': 'c++17',
        'GCC_OPTIMIZATION_LEVEL': '3',
        'MACOSX_DEPLOYMENT_TARGET': '11.0',
      },
      'msvs_settings': {
        'VCCLCompilerTool': { 'ExceptionHandling': 1, 'AdditionalOptions': ['/std:c++17'] },
      },
    },
    {
      'target_name': 'foveal_cuda',
      'type': 'none',
      'conditions': [
        ['foveal_nvcc!=""', {
          'actions': [{
            'action_name': 'nvcc_foveal_cuda',
            'inputs': ['<!@(node native/sources.js cuda)'],
            'outputs': ['<(PRODUCT_DIR)/libfoveal_cuda.so'],
            'action': [
              '<(foveal_nvcc)', '-O3', '-std=c++17', '-shared', '--cudart=static',
              '-Xcompiler=-fPIC', '-Xcompiler=-fvisibility=hidden',
              '<!@(node scripts/nvcc.js --gencode)',
              '-o', '<@(_outputs)', '<@(_inputs)',
            ],
            'message': 'nvcc: building libfoveal_cuda.so',
          }],
        }],
      ],
    },
  ],
}
