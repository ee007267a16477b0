# One interface target carries the language standard, warnings, hardening and sanitizers.
# Every MASH target links mash::build_options; nothing sets global flags.
add_library(mash_build_options INTERFACE)
add_library(mash::build_options ALIAS mash_build_options)

target_compile_features(mash_build_options INTERFACE cxx_std_20)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

target_compile_options(mash_build_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wcast-align -Wimplicit-fallthrough -Wformat=2
  $<$<BOOL:${MASH_WERROR}>:-Werror>
  -fstack-protector-strong -fstack-clash-protection -fcf-protection
  $<$<NOT:$<CONFIG:Debug>>:-D_FORTIFY_SOURCE=2>)
target_link_options(mash_build_options INTERFACE
  -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)

if(MASH_SANITIZE)
  target_compile_options(mash_build_options INTERFACE
    -fsanitize=${MASH_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(mash_build_options INTERFACE -fsanitize=${MASH_SANITIZE})
endif()

# Fuzz builds: every library gets coverage instrumentation so libFuzzer can steer into it.
if(MASH_BUILD_FUZZERS)
  target_compile_options(mash_build_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
