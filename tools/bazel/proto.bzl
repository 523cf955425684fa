"""cc_grpc_proto: protoc + grpc_cpp_plugin from Debian, as a genrule and a cc_library.

Import paths are relative to the package that calls the macro (//proto), so
`import "onchainkms/signer/v1/signer.proto"` in a .proto file and
`#include "onchainkms/signer/v1/signer.grpc.pb.h"` in C++ name the same file.
"""

def cc_grpc_proto(name, srcs, deps = [], grpc = True, visibility = None):
    pkg = native.package_name()
    hdrs = []
    cc_srcs = []
    for src in srcs:
        base = src[:-len(".proto")]
        hdrs.append(base + ".pb.h")
        cc_srcs.append(base + ".pb.cc")
        if grpc:
            hdrs.append(base + ".grpc.pb.h")
            cc_srcs.append(base + ".grpc.pb.cc")

    # protoc needs every imported .proto on its path: take them from the deps' "<dep>_srcs".
    dep_srcs = [d + "_srcs" for d in deps]
    native.filegroup(name = name + "_srcs", srcs = srcs + dep_srcs, visibility = visibility)

    grpc_flags = "--grpc_out=$(GENDIR)/%s --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin " % pkg if grpc else ""
    native.genrule(
        name = name + "_gen",
        srcs = srcs + dep_srcs,
        outs = hdrs + cc_srcs,
        cmd = ("/usr/bin/protoc -I%s -I/usr/include --cpp_out=$(GENDIR)/%s " % (pkg, pkg)) + grpc_flags +
              " ".join(["%s/%s" % (pkg, s) for s in srcs]),
        message = "protoc %s" % name,
    )
    native.cc_library(
        name = name,
        srcs = cc_srcs,
        hdrs = hdrs,
        includes = ["."],
        # Generated code is not ours to keep warning-clean.
        copts = ["-Wno-unused-parameter", "-Wno-deprecated-declarations"],
        deps = deps + ["@system//:grpcpp" if grpc else "@system//:protobuf"],
        visibility = visibility,
    )
