# Fails when a ctest label selects no test: a label that matches nothing
# makes `ctest -L <label>` run zero tests and pass. Run by ctest as
#   cmake -D BUILD_DIR=... -D LABELS="unit;store;..." -P check_labels.cmake
foreach(label IN LISTS LABELS)
  execute_process(COMMAND ${CMAKE_CTEST_COMMAND} -N -L "^${label}$"
                  WORKING_DIRECTORY ${BUILD_DIR}
                  OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "ctest -N -L ${label} failed (${rc}): ${out}")
  endif()
  string(REGEX MATCH "Total Tests: ([0-9]+)" _ "${out}")
  if("${CMAKE_MATCH_1}" STREQUAL "" OR CMAKE_MATCH_1 EQUAL 0)
    message(FATAL_ERROR "ctest label '${label}' selects no test")
  endif()
  message(STATUS "label ${label}: ${CMAKE_MATCH_1} tests")
endforeach()
