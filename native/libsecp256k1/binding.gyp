{
  "targets": [
    {
      "target_name": "sluice_secp256k1",
      "sources": ["src/binding.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "libraries": ["-lsecp256k1"]
    }
  ]
}
