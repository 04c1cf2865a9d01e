# test_merkle again, with merkle.c built so that the systematic tree's top (above 64 node blocks)
# is hashed by one hash_nodes call spanning six levels: the sixteen-lane batches must wait for
# children still pending. The object's definitions take the place of em_zkml's merkle.o.
add_executable(test_merkle_wide_top ${CMAKE_CURRENT_SOURCE_DIR}/zkml/test_merkle.c
               ${PROJECT_SOURCE_DIR}/src/zkml/merkle.c)
target_compile_definitions(test_merkle_wide_top PRIVATE MT_NODE_BLOCKS=64)
target_include_directories(test_merkle_wide_top PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/src/zkml)
target_link_libraries(test_merkle_wide_top PRIVATE ${EM_TEST_LIBS})
add_test(NAME test_merkle_wide_top COMMAND test_merkle_wide_top)
set_tests_properties(test_merkle_wide_top PROPERTIES
  ENVIRONMENT "EM_SRC_DIR=${PROJECT_SOURCE_DIR}" WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR} LABELS zkml TIMEOUT 600)
