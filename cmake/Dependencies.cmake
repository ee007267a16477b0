# Every third-party dependency is found here, once, and exposed as an imported target.
# All of them are Debian 12 packages; ./mash installs them (see the package list in ./mash).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL 3.0 REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(tomlplusplus 3.3 REQUIRED)
find_package(CLI11 REQUIRED)
# The Prometheus text format (DESIGN §13): only the core library; its pull/push parts (civetweb,
# curl) are not linked, the ops listener serves /metrics with Beast.
find_package(prometheus-cpp CONFIG REQUIRED)

pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium>=1.0.18)
add_library(mash::dep::sodium ALIAS PkgConfig::SODIUM)

# sd_notify(3) for Type=notify units (readiness, reload, stop, watchdog): common/notify.h.
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
add_library(mash::dep::systemd ALIAS PkgConfig::SYSTEMD)

# SQLCipher ships its own sqlite3.h under include/sqlcipher; SQLITE_HAS_CODEC exposes the key API.
# The plain libsqlite3 must never be linked into the same binary (tests/unit/storage checks ldd).
pkg_check_modules(SQLCIPHER REQUIRED IMPORTED_TARGET sqlcipher>=3.4)
add_library(mash_dep_sqlcipher INTERFACE)
target_link_libraries(mash_dep_sqlcipher INTERFACE PkgConfig::SQLCIPHER)
target_compile_definitions(mash_dep_sqlcipher INTERFACE SQLITE_HAS_CODEC)
add_library(mash::dep::sqlcipher ALIAS mash_dep_sqlcipher)

find_path(VALIJSON_INCLUDE_DIR valijson/validator.hpp REQUIRED)
add_library(mash_dep_valijson INTERFACE)
target_include_directories(mash_dep_valijson SYSTEM INTERFACE ${VALIJSON_INCLUDE_DIR})
add_library(mash::dep::valijson ALIAS mash_dep_valijson)

add_library(mash_dep_beast INTERFACE)
target_link_libraries(mash_dep_beast INTERFACE Boost::headers Boost::system OpenSSL::SSL
                      OpenSSL::Crypto Threads::Threads)
# Beast's own deadlines (tcp_stream::expires_after) are used; no deprecated interfaces.
target_compile_definitions(mash_dep_beast INTERFACE BOOST_BEAST_USE_STD_STRING_VIEW
                           BOOST_ASIO_NO_DEPRECATED BOOST_ASIO_NO_TS_EXECUTORS)
add_library(mash::dep::beast ALIAS mash_dep_beast)

if(MASH_BUILD_TESTS)
  find_package(GTest 1.12 REQUIRED)
  find_package(benchmark QUIET)
endif()
