# Small helpers shared by every Docket target.
include_guard(GLOBAL)
include(GoogleTest)

# Warnings for Docket's own code only (generated and vendor code is exempt).
function(docket_warnings target)
  # -Wrestrict: GCC 12 false positives inside libstdc++ string code (GCC bug 105651).
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter -Wno-restrict)
  if(DOCKET_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# docket_library(name SRCS a.cc b.cc DEPS x y)
function(docket_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  docket_warnings(${name})
endfunction()

# docket_binary(name SRCS main.cc DEPS lib)
function(docket_binary name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  docket_warnings(${name})
endfunction()

# docket_service(name SRCS main.cc DEPS lib): a service's binary, allocating
# with jemalloc. Nothing names a jemalloc symbol (it replaces malloc), so the
# linker must keep it even under --as-needed. The test runs the binary with
# jemalloc's statistics at exit: they print only if jemalloc is the allocator.
set(CMAKE_LINK_LIBRARY_USING_NO_AS_NEEDED "LINKER:--push-state,--no-as-needed" "<LINK_ITEM>"
    "LINKER:--pop-state")
set(CMAKE_LINK_LIBRARY_USING_NO_AS_NEEDED_SUPPORTED TRUE)
function(docket_service name)
  docket_binary(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE "$<LINK_LIBRARY:NO_AS_NEEDED,${JEMALLOC_LIBRARY}>")
  if(DOCKET_BUILD_TESTS)
    add_test(NAME ${name}_allocates_with_jemalloc COMMAND ${name} --help)
    set_tests_properties(${name}_allocates_with_jemalloc PROPERTIES
      ENVIRONMENT "MALLOC_CONF=stats_print:true"
      PASS_REGULAR_EXPRESSION "Begin jemalloc statistics" LABELS unit)
  endif()
endfunction()

# docket_test(name SRCS x_test.cc DEPS lib LABELS unit|integration|e2e
#             [FIXTURES fixture...] [TIMEOUT seconds])
# Each GoogleTest case becomes its own ctest test (discovered when ctest runs).
function(docket_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SRCS;DEPS;LABELS;FIXTURES" ${ARGN})
  if(NOT ARG_LABELS)
    message(FATAL_ERROR "docket_test(${name}) needs LABELS unit|integration|e2e")
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock docket_gtest_main)
  docket_warnings(${name})
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 30)
  # gtest_discover_tests(PROPERTIES) flattens list values in CMake 3.25 (an
  # ENVIRONMENT of two variables, two LABELS or two FIXTURES would shift every
  # later property, silently dropping FIXTURES_REQUIRED). So the properties
  # are set by a script that ctest includes after the discovered tests, on
  # the list of names discovery leaves in ${name}_TESTS.
  set(props "LABELS [==[${ARG_LABELS}]==] TIMEOUT ${ARG_TIMEOUT}")
  string(APPEND props " ENVIRONMENT [==[DOCKET_BUILD_DIR=${PROJECT_BINARY_DIR};"
                      "DOCKET_SOURCE_DIR=${PROJECT_SOURCE_DIR}]==]")
  if(ARG_FIXTURES)
    string(APPEND props " FIXTURES_REQUIRED [==[${ARG_FIXTURES}]==]")
  endif()
  set(script "${CMAKE_CURRENT_BINARY_DIR}/${name}_properties.cmake")
  file(WRITE "${script}"
       "if(${name}_TESTS)\n  set_tests_properties(\${${name}_TESTS} PROPERTIES ${props})\nendif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${script}")
endfunction()
