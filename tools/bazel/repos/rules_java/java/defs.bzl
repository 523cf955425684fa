# Offline shim: re-export Bazel 4's native Java rules (nothing here uses Java; Bazel's own
# @bazel_tools//tools/jdk package loads these names anyway).
java_binary = native.java_binary
java_import = native.java_import
java_library = native.java_library
java_runtime = native.java_runtime
java_test = native.java_test
java_toolchain = native.java_toolchain
