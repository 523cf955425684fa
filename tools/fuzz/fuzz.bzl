"""cc_fuzz_test: one libFuzzer target, built two ways.

    cc_fuzz_test(name = "rlp_fuzz", srcs = ["rlp_fuzz.cc"], deps = ["//chain:rlp"])

makes
  :rlp_fuzz          a cc_test replaying every file of corpus/rlp_fuzz/ through
                     LLVMFuzzerTestOneInput (the standalone driver, no libFuzzer), so
                     `bazel test //...` checks every seed and regression input on every run;
  :rlp_fuzz_fuzzer   under --config=fuzz a libFuzzer binary (-fsanitize=fuzzer,address,undefined);
                     in a normal build the same driver (replays the files it is given).
                     Tagged "fuzzer" (tools/fuzz.sh finds them so) and manual.
"""

def cc_fuzz_test(name, srcs, deps = [], corpus = None, **kwargs):
    corpus = corpus or "corpus/" + name
    native.filegroup(
        name = name + "_corpus",
        srcs = native.glob([corpus + "/**"], allow_empty = False),
    )
    native.cc_test(
        name = name,
        srcs = srcs,
        deps = deps + ["//tools/fuzz:driver"],
        data = [":" + name + "_corpus"],
        args = ["$(locations :" + name + "_corpus)"],
        size = "small",
        # Our libraries linked in, not as .so files: a .so's own system deps (-lboost_json) are
        # otherwise dropped by --as-needed when the test itself does not use them.
        linkstatic = True,
        **kwargs
    )
    native.cc_binary(
        name = name + "_fuzzer",
        srcs = srcs,
        deps = deps + select({
            "//tools/fuzz:fuzzing": [],
            "//conditions:default": ["//tools/fuzz:driver"],
        }),
        linkopts = select({
            "//tools/fuzz:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        data = [":" + name + "_corpus"],
        tags = ["manual", "fuzzer"],
    )
