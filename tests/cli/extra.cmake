# Script-driven CLI contract tests: they run the real enclaveml binary.
file(GLOB clitests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_*.sh)
foreach(script ${clitests})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME cli_${name} COMMAND bash ${script})
  set_tests_properties(cli_${name} PROPERTIES
    ENVIRONMENT "EM_SRC_DIR=${PROJECT_SOURCE_DIR};EM_BIN=$<TARGET_FILE:enclaveml>;EM_SHARED_DIR=${PROJECT_SOURCE_DIR}/../shared"
    LABELS cli TIMEOUT 300)
endforeach()
