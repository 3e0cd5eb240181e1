"""Minimal reproducers of the failure classes that the fuzzing suite (test_fuzz.py, tests/fuzz_bench.py)
found on the decoders of commit f704578. Each file must decode to a network that runs on its declared
input shape, or be refused with a one-line ContainerError naming the file (test_fuzz.py, test_reproducer).

Each case gives the container kind, what those decoders did (`error`: the exception type, then its
message with numbers, quoted parts and paths blanked), the mutation that made it, and the whole file
as hex (the container, its CRC-32 recomputed). `recipe` names the seed (tests/mutants.py) and the
fields changed; the files were minimised (edits dropped, the payload cut short while the failure
stayed the same). `python tests/fuzz_bench.py` lists the classes again, with a minimal
file for each, against whatever decoders are checked out.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    error: str  # what the decoders of the commit above did
    recipe: str  # the seed and the mutation
    hex: str  # the whole file

    def data(self) -> bytes:
        return bytes.fromhex(self.hex)


CASES = [
    Case(
        "mrc-arch-image-size-overflow",
        "mrc",
        (
            "TypeError: empty(): argument <q> failed to unpack the object at pos N with error \"Overflow "
            "when unpac"
        ),
        "mrc/lenet300_100: arch.image_size = 1099511627776 (was 8)",
        (
            "4e4e435a01010c6c656e65743330305f31303003101002010a808080808020030780010a0398a4af3da15d1b3da20e4e"
            "3d1212835d88"
        ),
    ),
    Case(
        "mrc-block-size-alloc",
        "mrc",
        (
            "RuntimeError: [enforce fail at alloc_cpu.cpp:N] err == N. DefaultCPUAllocator: can't "
            "allocate memory: yo"
        ),
        "mrc/lenet5: mrc.block_size = 2147483648 (was 256)",
        (
            "4e4e435a0101066c656e6574350401080801010a10000780808080080d0478fa123d74ccd43d8ca5533dfbb3a63d22b6"
            "23b455bc77"
        ),
    ),
    Case(
        "mrc-arch-name-multiline",
        "mrc",
        (
            "ContainerError(multi-line message): PATH passed its checksum but its payload is malformed: "
            "unknown architecture <q> in file"
        ),
        "mrc/lenet300_100: arch.name = 'mlp' (length field kept at 12)",
        (
            "4e4e435a01010c6d6c7003101002010afe65f201"
        ),
    ),
    Case(
        "mrc-block-size-overflow",
        "mrc",
        (
            "TypeError: full(): argument <q> failed to unpack the object at pos N with error \"Overflow "
            "when unpack"
        ),
        "mrc/lenet300_100: mrc.block_size = 18446744073709551615 (was 128)",
        (
            "4e4e435a01010c6c656e65743330305f31303003101002010a080307ffffffffffffffffff010a0398a4af3da15d1b3d"
            "a20e4e3d122fd8a631c4"
        ),
    ),
    Case(
        "mrc-block-size-zero-zerodiv",
        "mrc",
        "ZeroDivisionError: division by zero",
        "mrc/lenet5: bit 7 of byte 17 (in mrc.block_size) flipped, so block_size = 0",
        (
            "4e4e435a0101066c656e6574350401080801010a10000700020d0478fa123d74ccd43d8ca5533dfbb3a63d22b6236fd3"
            "d89203c4fd67ae1629ca806f0113cc68d4205b1e8dd3986bdfd5279ce408781fafd272"
        ),
    ),
    Case(
        "mrc-arch-hashing-zerodiv",
        "mrc",
        "RuntimeError: ZeroDivisionError",
        "mrc/lenet300_100: arch.hashing[0] = 2**7007 - 1 (1001-byte varint)",
        (
            "4e4e435a01010c6c656e65743330305f31303003ffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffff7f1002010a08030780010a0398a4af3da15d1b3da20e4e3d122ffe26cba1c6229fe3"
        ),
    ),
    Case(
        "mrc-arch-in-channels-forward",
        "mrc",
        (
            "forward:RuntimeError: Expected ND or ND (batch mode) tensor with optional N dim batch size "
            "for input, but got:[N"
        ),
        "mrc/lenet5: arch.in_channels = 0 (was 1)",
        (
            "4e4e435a0101066c656e6574350401080801000a10000780020d0478fa123d74ccd43d8ca5533dfbb3a63d22b6236fd3"
            "d89203c4fd67ae1629ca806f0113cc68d4205b1e8dd3986bdfd5279ce4087888f5832e37e55c62539901ef116301f1e1"
            "599318347342a829b66e75296e9003d8808c480cb5bfdc55d71066d926"
        ),
    ),
    Case(
        "mrc-reencoded-huge-virtual-net-timeout",
        "mrc",
        "timeout: no answer after 60 s (the benchmark's limit)",
        (
            "mrc/lenet5: re-encoded for 330 x 330 images, fc1 (156,025,000 weights) hashed to one "
            "variable (36 blocks)"
        ),
        (
            "4e4e435a0101066c656e657435040108a881b34a01010aca02000780020d0478fa123d74ccd43d8ca5533dfbb3a63d53"
            "68898a83"
        ),
    ),
    Case(
        "mrc-arch-image-size-storage-overflow",
        "mrc",
        "RuntimeError: Storage size calculation overflowed with sizes=[N, N]",
        "mrc/lenet300_100: arch.image_size = 2147483647 (was 8)",
        (
            "4e4e435a01010c6c656e65743330305f31303003101002010affffffff07030780010a0398a4af3da15d1b3da20e4e3d"
            "1a7a9cc0"
        ),
    ),
    Case(
        "mrc-block-size-storage-overflow",
        "mrc",
        "RuntimeError: Storage size calculation overflowed with sizes=[N]",
        "mrc/lenet300_100: mrc.block_size = 4611686018427387904 (was 128)",
        (
            "4e4e435a01010c6c656e65743330305f31303003101002010a0803078080808080808080400a0398a4af3da15d1b3da2"
            "0e4e3d122ff403e3a6"
        ),
    ),
    Case(
        "mrc-block-size-expand",
        "mrc",
        (
            "RuntimeError: The expanded size of the tensor (N) must match the existing size (N) at non-"
            "singleton dime"
        ),
        "mrc/lenet300_100: mrc.block_size = 2**7007 - 1 (1001-byte varint)",
        (
            "4e4e435a01010c6c656e65743330305f31303003101002010a080307ffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffff7f0a0398a4af3da15d1b3da20e4e3d122ffe26cba14e8ce5a7"
        ),
    ),
    Case(
        "mrc-arch-in-channels-storage-overflow",
        "mrc",
        "RuntimeError: Storage size calculation overflowed with sizes=[N, N, N, N]",
        "mrc/lenet5: arch.in_channels = 9223372036854775807 (was 1)",
        (
            "4e4e435a0101066c656e6574350401080801ffffffffffffffff7f0a10000780020d0478fa123d74ccd43d8ca5533dfb"
            "b3a63d223a4291b0"
        ),
    ),
    Case(
        "mrc-arch-image-size-forward",
        "mrc",
        (
            "forward:RuntimeError: Calculated padded input size per channel: (N x N). Kernel size: (N x "
            "N). Kernel size can't"
        ),
        "mrc/lenet5: arch.image_size = 9 (was 16)",
        (
            "4e4e435a0101066c656e6574350401080801010a09000780020d0478fa123d74ccd43d8ca5533dfbb3a63d22b6236fd3"
            "d89203c4fd67ae1629ca806f0113cc68d4205b1e8dd3986bdfd5279ce4087888f5832e37e55c62539901ef116301f1e1"
            "599318347342a829b66e75296e9003d8808c480cb5bfdc55d73c385d2434e9"
        ),
    ),
    Case(
        "nnc-arch-in-channels-overflow",
        "csr_huffman",
        (
            "TypeError: empty(): argument <q> failed to unpack the object at pos N with error \"Overflow "
            "when unpac"
        ),
        "nnc/lenet5: arch.in_channels = 18446744073709551615 (was 1)",
        (
            "4e4e435a0102066c656e657435ffffffffffffffffff010a100404060a0a050900000000cdcc4cbe254912bef98aafbd"
            "a20eeabca20eea3cf98aaf3d2549123ecdcc4c3e502c52952222"
        ),
    ),
    Case(
        "nnc-arch-name-multiline",
        "csr_huffman",
        (
            "ContainerError(multi-line message): PATH passed its checksum but its payload is malformed: "
            "unknown architecture <q> in file"
        ),
        "nnc/lenet300_100: arch.name = 'lenet5' (length field kept at 12)",
        (
            "4e4e435a01020c6c656e657435010a087c8f8a8d"
        ),
    ),
    Case(
        "nnc-arch-widths-alloc",
        "csr_huffman",
        (
            "RuntimeError: [enforce fail at alloc_cpu.cpp:N] err == N. DefaultCPUAllocator: can't "
            "allocate memory: yo"
        ),
        "nnc/lenet300_100: arch.widths[1] = 9007199254740992 (was 12)",
        (
            "4e4e435a01020c6c656e65743330305f313030010a08031480808080808080100a030600000000cdcc4cbecdccccbd00"
            "000000cdcccc3dcdcc4c3e68d134bcea49b4bcee5959eadd60"
        ),
    ),
    Case(
        "nnc-fc1-csr-cols-overflow",
        "csr_huffman",
        (
            "TypeError: zeros(): argument <q> failed to unpack the object at pos N with error \"Overflow "
            "when unpac"
        ),
        "nnc/lenet5: fc1.csr.cols = 1180591620717411303424 (was 6)",
        (
            "4e4e435a0102066c656e657435010a100404060a0a050900000000cdcc4cbe254912bef98aafbda20eeabca20eea3cf9"
            "8aaf3d2549123ecdcc4c3e502cc33deb6a40bd9abbe9bc7289713d0419051010100f0000008401004001800100080080"
            "01000200000100400184000800000003008220040008020100003f0804020203050306030703080301040304d352f8c7"
            "aebc866d55932c9f47f0e397bf172927a6502f20c340603cb685073e77e45b3e5b4225bcabee40be854daabd06640546"
            "4033463b3800000080410040000020000201004008000000200082100800000010000100021000000000100000004410"
            "0800000000002108020000410000010420080010000218440000430000008400080010002000441000200800000c8100"
            "04000400084410086309801000211080010000080002800100c000844008001000000040000000080000000008401000"
            "00000c000400080400000000021000200000208001080000000008000084600842000001008000844000000208202002"
            "0000a110400004000800108401108210000100c210840008800004041000008001100000042208020000010000f20208"
            "010302030303040305030603070308039edac45e4b726bdaf5ce6cf2b28dfc4c0aab40ea2c05c540f8ff873c6f72eb5c"
            "40555344ad272452bd2ab10c376222635f192db366a43df0012d37fbdda3bb86248839774d99c5826b3c4e51064f6217"
            "87b0c8bac65b44f18b2fb59d85a26de5458a6d219cd23bbfed7e058deb8b5801fc6971950330e63fa9331d5457f04e58"
            "ce826da97312c218daa28cc7f969be85262fbc78c8723d8a9925bd80a59fbdae96a2bb27102a3dc956adbd6a2bb03d67"
            "cf29bb0a8080808080808080808001050503040103030504030500000000010080010400004400040000001088000800"
            "00240804020203030305030603080301040704e563d41cd8255fcd2f389d660680676e6bbfc9"
        ),
    ),
    Case(
        "nnc-fc1-csr-cols-storage-overflow",
        "csr_huffman",
        "RuntimeError: Storage size calculation overflowed with sizes=[N, N]",
        "nnc/lenet5: fc1.csr.cols = 9223372036854775807 (was 6)",
        (
            "4e4e435a0102066c656e657435010a100404060a0a050900000000cdcc4cbe254912bef98aafbda20eeabca20eea3cf9"
            "8aaf3d2549123ecdcc4c3e502cc33deb6a40bd9abbe9bc7289713d0419051010100f0000008401004001800100080080"
            "01000200000100400184000800000003008220040008020100003f0804020203050306030703080301040304d352f8c7"
            "aebc866d55932c9f47f0e397bf172927a6502f20c340603cb685073e77e45b3e5b4225bcabee40be854daabd06640546"
            "4033463b3800000080410040000020000201004008000000200082100800000010000100021000000000100000004410"
            "0800000000002108020000410000010420080010000218440000430000008400080010002000441000200800000c8100"
            "04000400084410086309801000211080010000080002800100c000844008001000000040000000080000000008401000"
            "00000c000400080400000000021000200000208001080000000008000084600842000001008000844000000208202002"
            "0000a110400004000800108401108210000100c210840008800004041000008001100000042208020000010000f20208"
            "010302030303040305030603070308039edac45e4b726bdaf5ce6cf2b28dfc4c0aab40ea2c05c540f8ff873c6f72eb5c"
            "40555344ad272452bd2ab10c376222635f192db366a43df0012d37fbdda3bb86248839774d99c5826b3c4e51064f6217"
            "87b0c8bac65b44f18b2fb59d85a26de5458a6d219cd23bbfed7e058deb8b5801fc6971950330e63fa9331d5457f04e58"
            "ce826da97312c218daa28cc7f969be85262fbc78c8723d8a9925bd80a59fbdae96a2bb27102a3dc956adbd6a2bb03d67"
            "cf29bb0affffffffffffffff7f0505030401030305040305000000000100800104000044000400000010880008000024"
            "0804020203030305030603080301040704e563d41cd8255fcd2f389d660680674cf4f179"
        ),
    ),
    Case(
        "nnc-arch-image-size-forward",
        "csr_huffman",
        (
            "forward:RuntimeError: Calculated padded input size per channel: (N x N). Kernel size: (N x "
            "N). Kernel size can't"
        ),
        "nnc/lenet5: arch.image_size = 8 (was 16)",
        (
            "4e4e435a0102066c656e657435010a080404060a0a050900000000cdcc4cbe254912bef98aafbda20eeabca20eea3cf9"
            "8aaf3d2549123ecdcc4c3e502cc33deb6a40bd9abbe9bc7289713d0419051010100f0000008401004001800100080080"
            "01000200000100400184000800000003008220040008020100003f0804020203050306030703080301040304d352f8c7"
            "aebc866d55932c9f47f0e397bf172927a6502f20c340603cb685073e77e45b3e5b4225bcabee40be854daabd06640546"
            "4033463b3800000080410040000020000201004008000000200082100800000010000100021000000000100000004410"
            "0800000000002108020000410000010420080010000218440000430000008400080010002000441000200800000c8100"
            "04000400084410086309801000211080010000080002800100c000844008001000000040000000080000000008401000"
            "00000c000400080400000000021000200000208001080000000008000084600842000001008000844000000208202002"
            "0000a110400004000800108401108210000100c210840008800004041000008001100000042208020000010000f20208"
            "010302030303040305030603070308039edac45e4b726bdaf5ce6cf2b28dfc4c0aab40ea2c05c540f8ff873c6f72eb5c"
            "40555344ad272452bd2ab10c376222635f192db366a43df0012d37fbdda3bb86248839774d99c5826b3c4e51064f6217"
            "87b0c8bac65b44f18b2fb59d85a26de5458a6d219cd23bbfed7e058deb8b5801fc6971950330e63fa9331d5457f04e58"
            "ce826da97312c218daa28cc7f969be85262fbc78c8723d8a9925bd80a59fbdae96a2bb27102a3dc956adbd6a2bb03d67"
            "cf29bb0a0605050304010303050403050000000001008001040000440004000000108800080000240804020203030305"
            "030603080301040704e563d41cd8255fcd2f389d66068067df583d2030fd3d2bc929bc6d9d833d2ad9263dc753473efd"
            "dc3cbd202f3a3d62abb83d0df591bd0a0a050507070604090506030800c2100020000020802000400008020006100000"
            "0000000004004000002109401000000800003c08010202030303040307030803050406044e01ac4b75b54cdb60e36898"
            "5f0bf5f5c4e21a6b2850c4391af2"
        ),
    ),
    Case(
        "nnc-arch-in-channels-storage-overflow",
        "csr_huffman",
        "RuntimeError: Storage size calculation overflowed with sizes=[N, N, N, N]",
        "nnc/lenet5: arch.in_channels = 9223372036854775807 (was 1)",
        (
            "4e4e435a0102066c656e657435ffffffffffffffff7f0a100404060a0a050900000000cdcc4cbe254912bef98aafbda2"
            "0eeabca20eea3cf98aaf3d2549123ecdcc4c3e502cc3a09533e3"
        ),
    ),
    Case(
        "cbk-arch-num-classes-overflow",
        "codebook",
        (
            "TypeError: empty(): argument <q> failed to unpack the object at pos N with error \"Overflow "
            "when unpac"
        ),
        "cbk/mlp: arch.num_classes = 18446744073709551615 (was 10)",
        (
            "4e4e435a0103036d6c700301010101ffffffffffffffffff0104004809cf17"
        ),
    ),
    Case(
        "cbk-arch-in-channels-alloc",
        "codebook",
        (
            "RuntimeError: [enforce fail at alloc_cpu.cpp:N] err == N. DefaultCPUAllocator: can't "
            "allocate memory: yo"
        ),
        "cbk/mlp: arch.in_channels = 68719476735 (was 1)",
        (
            "4e4e435a0103036d6c7003010101ffffffffff010a0400673e962f"
        ),
    ),
    Case(
        "cbk-arch-num-classes-storage-overflow",
        "codebook",
        "RuntimeError: Storage size calculation overflowed with sizes=[N, N]",
        "cbk/lenet5: arch.num_classes = 4611686018427387904 (was 10)",
        (
            "4e4e435a0103066c656e657435040101010101808080808080808040100008010400000000cdccccbdda23c541"
        ),
    ),
    Case(
        "cbk-fc1-weight-mask-csr-cols-overflow",
        "codebook",
        (
            "TypeError: zeros(): argument <q> failed to unpack the object at pos N with error \"Overflow "
            "when unpac"
        ),
        "cbk/mlp: fc1.weight.mask.csr.cols = 2**707 - 1 (101-byte varint)",
        (
            "4e4e435a0103036d6c7003010101010a040006048002ffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            "ffffffffffffffffffffffffffffffffffffffffffffffffffff7f020607050605070606050606070504060607070604"
            "06070405030705070a030b0807060506070505040705060505070606060606080307040405030705030a060506060603"
            "050805080506060405070804080407070605060407030404050605070605060306050607070705060604090606060606"
            "070507070707020607030906040509080707080605060506000605060605080705080706070608090406050504050608"
            "000805030508070706050706060506070506070707060406050505080604050705050604040705070607070505070a05"
            "0607040407070806060605060606010508040705040409070508060507070707020506040507070505060605323b440f"
            "e67387b441f34e90bab0d8db4099fe2d1dc23a24496173292df3510e6f7f3bc409c5784b244041f00024505b39241cae"
            "6b1598cc3f03c6e90e35e74e4b8726c174c4555d72e078a7490304ad3fdffd3ec3cc7f3a00741d80fd6d70d04e16e85c"
            "4b174d00764e3c34ad09dbc24c58130b4141f74b7007453337dc86ff914a4027ced1cd76c0cf1d2bd6b50f7c4bdde204"
            "0f6e80d1d10ca9c8bcfc50c51b30f93f105a621f3147f5272e703a012197dc7545cf900b0e74f14e4d44121522c4158d"
            "6544cb04247364f7c1578f8b9670f7f58302034b791c705989c3477488a4742046265d0f7e07cae20efc01c45c01c63f"
            "3be502891dcca08787dd3d152d2e13b88f10b409f4700d503329715ce330cf300387bc0e90f40efc73348fe04dcf0e8f"
            "064d3b3017be444783712d8cb068d1c104b9ef208d5b7d46b413191cc17b1ba12f4a80cf0cdb1d53f4812208f413db76"
            "4d4034d983dd1250d3c1bcf02333134c6323dcc8c4b4c44c36b023f4f71d39bc43f0d60b0200010101befe7bebf2dfbf"
            "feff3dd7bfffbfdaffdee7fffffff7fffebfddeff58e7fdb6deef7b7fdbfbefeffed9dedebfbff3dbfffffeedffd9bdf"
            "ffdfeeffafbffaadf9ffffd75b74fe7bdbf5ffeff7fdf7d9f7fbf8fffefe7edffffedbf6fedf3fdffffffdff6ffbf6fe"
            "ceff63ffeffdbff7ebffbffffebef7dbf7dffae7ffd5ffe79fddfbcfff7bdfafbd6b4bee9dffd5ebcfd7dcfffff9fffb"
            "ddbf77fbefdfdfbffd7befdffcdede3fffff6bffb7e5ff67fbeaedefd77b7fbbe32df9e4cd98733d5ae10fbc3acf9d3c"
            "2040f9bc5d6ef83be5ab5b3d3b3590bac20052bd244c92bd6bfcfe3beedebebdcb8533bd93768dbd8839a5bd9854feba"
            "1f893cbd4c8fd3bcf74e363d8b109b3d3eb9d3bbe46ec73c50f6a53d3c865a3db1ba443dfa77aabd80bec83c0de78330"
        ),
    ),
    Case(
        "cbk-arch-name-len-multiline",
        "codebook",
        (
            "ContainerError(multi-line message): PATH passed its checksum but its payload is malformed: "
            "unknown architecture <q> in file"
        ),
        "cbk/mlp: arch.name_len = 11 (was 3); container kind byte = 1",
        (
            "4e4e435a01010b6d6c7003010101010a164e4d54"
        ),
    ),
    Case(
        "cbk-arch-in-channels-storage-overflow",
        "codebook",
        "RuntimeError: Storage size calculation overflowed with sizes=[N, N, N, N]",
        "cbk/cifar_cnn: arch.in_channels = 9223372036854775807 (was 3)",
        (
            "4e4e435a01030963696661725f636e6e080101010101010101ffffffffffffffff7f0a200025020400000000cdccccbd"
            "cff48224"
        ),
    ),
]
