# Multi-process cluster tests: bash scripts that start an aggregator and workers (the enclaveml
# binary) on random loopback ports and drive them with curl and an independent Python gRPC client.
foreach(t basic faults modes rest grpc load demo)
  add_test(NAME cluster_${t} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cluster/cluster_${t}.sh)
  set_tests_properties(cluster_${t} PROPERTIES
    ENVIRONMENT "EM_SRC_DIR=${PROJECT_SOURCE_DIR};EM_BIN=$<TARGET_FILE:enclaveml>;EM_PROTO_DESC=${PROJECT_BINARY_DIR}/proto-gen/enclaveml.desc;EM_LOG=info"
    LABELS cluster TIMEOUT 120)
endforeach()
