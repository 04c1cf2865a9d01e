# Generated protobuf-c code for proto/enclaveml.proto (library em_proto) and the small gRPC layer
# on top of the gRPC core C API shared by worker and aggregator (src/rpc, library em_rpc).
set(EM_PROTO_SRC ${PROJECT_SOURCE_DIR}/proto/enclaveml.proto)
set(EM_PROTO_GEN_DIR ${PROJECT_BINARY_DIR}/proto-gen)
file(MAKE_DIRECTORY ${EM_PROTO_GEN_DIR})
add_custom_command(
  OUTPUT ${EM_PROTO_GEN_DIR}/enclaveml.pb-c.c ${EM_PROTO_GEN_DIR}/enclaveml.pb-c.h
         ${EM_PROTO_GEN_DIR}/enclaveml.desc
  COMMAND ${PROTOC_C} --c_out=${EM_PROTO_GEN_DIR} --descriptor_set_out=${EM_PROTO_GEN_DIR}/enclaveml.desc
          -I${PROJECT_SOURCE_DIR}/proto ${EM_PROTO_SRC}
  # protoc-c names the service-struct member for rpc Register `register`, a C keyword; we do not
  # use protobuf-c's service stubs (gRPC core carries the calls), so only that member is renamed.
  COMMAND sed -i "s/[(][*]register[)]/(*register_)/" ${EM_PROTO_GEN_DIR}/enclaveml.pb-c.h
  DEPENDS ${EM_PROTO_SRC}
  COMMENT "protoc-c enclaveml.proto"
  VERBATIM)
set_source_files_properties(${EM_PROTO_GEN_DIR}/enclaveml.pb-c.c PROPERTIES COMPILE_OPTIONS "-Wno-unused-parameter")
add_library(em_proto STATIC ${EM_PROTO_GEN_DIR}/enclaveml.pb-c.c)
target_include_directories(em_proto PUBLIC ${EM_PROTO_GEN_DIR})
target_link_libraries(em_proto PUBLIC PkgConfig::PROTOBUFC)

file(GLOB EM_RPC_SRC CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/rpc/*.c)
add_library(em_rpc STATIC ${EM_RPC_SRC})
target_include_directories(em_rpc PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src/rpc)
target_link_libraries(em_rpc PUBLIC em_core em_proto PkgConfig::GRPC PkgConfig::CURL PkgConfig::MHD)
