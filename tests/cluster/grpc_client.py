"""Independent gRPC client for the cluster tests: Python grpcio + protobuf (Debian packages),
message classes built at run time from the descriptor set protoc-c wrote for proto/enclaveml.proto.

usage: grpc_client.py DESC WORKER_ADDR AGG_GRPC_ADDR NODE_ID MODEL_HASH_HEX TEST_JSON REF_JSON OUTDIR
Prints "  ok   ..." / "  FAIL ..." lines; exit status 1 if anything failed. Writes OUTDIR/g_in.json,
g_out.json, g.bin and g.args (nonce, node id) for an offline `enclaveml verify`."""
import json
import os
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

desc, waddr, aaddr, node_id, model_hash, test_json, ref_json, outdir = sys.argv[1:9]
fds = descriptor_pb2.FileDescriptorSet()
with open(desc, "rb") as f:
    fds.ParseFromString(f.read())
pool = descriptor_pool.DescriptorPool()
for fp in fds.file:
    pool.Add(fp)
factory = message_factory.MessageFactory(pool)


def M(name):
    return factory.GetPrototype(pool.FindMessageTypeByName("enclaveml." + name))


fails = 0


def check(desc, cond):
    global fails
    print(("  ok   " if cond else "  FAIL ") + desc)
    fails += 0 if cond else 1


def call(ch, path, req, resp_name, timeout=20):
    ser = (lambda b: b) if isinstance(req, bytes) else (lambda m: m.SerializeToString())
    fn = ch.unary_unary(path, request_serializer=ser, response_deserializer=M(resp_name).FromString)
    return fn(req, timeout=timeout)


def code_of(ch, path, req, resp_name):
    try:
        call(ch, path, req, resp_name)
        return grpc.StatusCode.OK
    except grpc.RpcError as e:
        return e.code()


data = json.load(open(test_json))
ref = json.load(open(ref_json))["predictions"]
ss = data["sample_size"]
rows = data["data"]

w = grpc.insecure_channel(waddr)
a = grpc.insecure_channel(aaddr)

info = call(w, "/enclaveml.Worker/Info", M("InfoRequest")(), "NodeInfo")
check("Worker.Info: node id, model hash, vk, sizes",
      info.node_id == node_id and info.model_hash.hex() == model_hash and len(info.vk) > 0
      and info.input_size == ss and info.output_size == 10 and info.max_batch > 0 and info.cores > 0)
h = call(w, "/enclaveml.Worker/Health", M("HealthRequest")(), "HealthResponse")
check("Worker.Health ok", h.ok)

n = 3
nonce = os.urandom(16)
req = M("InferRequest")(request_id="py-1", n_samples=n, input=[x for r in rows[:n] for x in r], nonce=nonce)
r = call(w, "/enclaveml.Worker/Infer", req, "InferResponse")
k = r.output_size
preds = [max(range(k), key=lambda j: (r.output_q[i * k + j], -j)) for i in range(n)]
check("Worker.Infer (float input): shapes, node id, proof present",
      r.n_samples == n and k == 10 and len(r.output_q) == n * k and r.node_id == node_id
      and len(r.proof) > 0 and len(r.input_q) == n * ss and r.timings.prove_ms > 0)
check("Worker.Infer predictions equal the reference", preds == ref[:n])
json.dump({"data": rows[:n], "sample_size": ss}, open(os.path.join(outdir, "g_in.json"), "w"))
json.dump({"output_q": list(r.output_q), "output_size": k}, open(os.path.join(outdir, "g_out_q.json"), "w"))
open(os.path.join(outdir, "g.bin"), "wb").write(r.proof)
open(os.path.join(outdir, "g.args"), "w").write(f"{nonce.hex()} {node_id}\n")

# Quantized input path gives the same outputs.
r2 = call(w, "/enclaveml.Worker/Infer", M("InferRequest")(n_samples=n, input_q=list(r.input_q), nonce=nonce), "InferResponse")
check("Worker.Infer (input_q) same outputs", list(r2.output_q) == list(r.output_q))

IR = M("InferRequest")
check("Worker.Infer wrong input length -> INVALID_ARGUMENT",
      code_of(w, "/enclaveml.Worker/Infer", IR(n_samples=2, input_q=[1] * (ss + 1)), "InferResponse") == grpc.StatusCode.INVALID_ARGUMENT)
check("Worker.Infer n_samples 0 -> INVALID_ARGUMENT",
      code_of(w, "/enclaveml.Worker/Infer", IR(n_samples=0), "InferResponse") == grpc.StatusCode.INVALID_ARGUMENT)
check("Worker.Infer 65-byte nonce -> INVALID_ARGUMENT",
      code_of(w, "/enclaveml.Worker/Infer", IR(n_samples=1, input_q=[0] * ss, nonce=b"x" * 65), "InferResponse") == grpc.StatusCode.INVALID_ARGUMENT)
check("Worker.Infer no input -> INVALID_ARGUMENT",
      code_of(w, "/enclaveml.Worker/Infer", IR(n_samples=1), "InferResponse") == grpc.StatusCode.INVALID_ARGUMENT)
check("Worker.Infer garbage bytes -> INVALID_ARGUMENT",
      code_of(w, "/enclaveml.Worker/Infer", b"\xff\xff\xff\xff\x0f", "InferResponse") == grpc.StatusCode.INVALID_ARGUMENT)
check("unknown method -> UNIMPLEMENTED",
      code_of(w, "/enclaveml.Worker/Nope", M("InfoRequest")(), "NodeInfo") == grpc.StatusCode.UNIMPLEMENTED)
check("Worker.Info still answers after bad calls",
      call(w, "/enclaveml.Worker/Info", M("InfoRequest")(), "NodeInfo").node_id == node_id)

# Aggregator coordination service.
n = 5
ci = call(a, "/enclaveml.Aggregator/Infer",
          M("ClusterInferRequest")(data=[x for r in rows[:n] for x in r], sample_size=ss, combine_strategy="soft_vote"),
          "ClusterInferResponse", timeout=60)
check("Aggregator.Infer: verified, predictions equal the reference",
      ci.verified and list(ci.predictions) == ref[:n] and ci.proofs_verified >= 1 and ci.model_hash == model_hash
      and len(ci.result) == n * 10 and ci.error == "")
check("Aggregator.Infer bad strategy -> INVALID_ARGUMENT",
      code_of(a, "/enclaveml.Aggregator/Infer", M("ClusterInferRequest")(data=[0.0] * ss, sample_size=ss, split_strategy="x"),
              "ClusterInferResponse") == grpc.StatusCode.INVALID_ARGUMENT)
check("Aggregator.Infer wrong sample_size -> INVALID_ARGUMENT",
      code_of(a, "/enclaveml.Aggregator/Infer", M("ClusterInferRequest")(data=[0.0] * 32, sample_size=32),
              "ClusterInferResponse") == grpc.StatusCode.INVALID_ARGUMENT)
hb = call(a, "/enclaveml.Aggregator/Heartbeat", M("HeartbeatRequest")(node_id=node_id), "HeartbeatResponse")
check("Aggregator.Heartbeat known worker", hb.known and hb.state == "healthy")
hb = call(a, "/enclaveml.Aggregator/Heartbeat", M("HeartbeatRequest")(node_id="ghost"), "HeartbeatResponse")
check("Aggregator.Heartbeat unknown worker -> known false", not hb.known)
check("Aggregator.Register bad address -> INVALID_ARGUMENT",
      code_of(a, "/enclaveml.Aggregator/Register", M("RegisterRequest")(node_id="x", address="nowhere"),
              "RegisterResponse") == grpc.StatusCode.INVALID_ARGUMENT)
rr = call(a, "/enclaveml.Aggregator/Register", M("RegisterRequest")(node_id=node_id, address=waddr), "RegisterResponse")
check("Aggregator.Register (re-registration over gRPC) accepted", rr.accepted and rr.model_hash.hex() == model_hash)
rr = call(a, "/enclaveml.Aggregator/Register", M("RegisterRequest")(node_id="impostor", address=waddr), "RegisterResponse")
check("Aggregator.Register impostor refused with a reason", not rr.accepted and "node_id" in rr.reason)
dr = call(a, "/enclaveml.Aggregator/Deregister", M("DeregisterRequest")(node_id="ghost"), "DeregisterResponse")
check("Aggregator.Deregister unknown -> removed false", not dr.removed)
sys.exit(1 if fails else 0)
