"""pdc._lib against include/pdc.h: struct layouts, constants, and the list
of functions with their argument counts.  The layouts are checked against
a C program compiled here with `cc` (sizes and offsetof of every field,
nested ones included); without a compiler, against layouts computed by
hand for LP64 Linux."""

import ctypes
import os
import re
import shutil
import subprocess

import pytest

import _pdc_testing as T
from pdc import _lib


def _fields(struct, prefix="", base=0):
    """(C member path, offset) of every field, nested ones too."""
    out = []
    for name, ftype in struct._fields_:
        cname = "as" if name == "as_" else name
        path = prefix + cname
        off = base + getattr(struct, name).offset
        out.append((path, off))
        if isinstance(ftype, type) and issubclass(ftype, (ctypes.Structure, ctypes.Union)):
            out.extend(_fields(ftype, path + ".", off))
    return out


def _constants():
    return {
        k: v
        for k, v in vars(_lib).items()
        if k.startswith("PDC_") and isinstance(v, int) and not isinstance(v, bool)
    }


def _c_program():
    lines = ["#include <pdc.h>", "#include <stddef.h>", "#include <stdio.h>", "int main(void) {"]
    for cname, struct in _lib.STRUCTS.items():
        lines.append('printf("size %s %%zu\\n", sizeof(%s));' % (cname, cname))
        for path, _ in _fields(struct):
            lines.append(
                'printf("offset %s.%s %%zu\\n", offsetof(%s, %s));' % (cname, path, cname, path)
            )
    for name in _constants():
        lines.append('printf("const %s %%lld\\n", (long long) (%s));' % (name, name))
    lines += ["return 0;", "}"]
    return "\n".join(lines) + "\n"


# LP64 Linux (x86-64, aarch64), computed by hand from pdc.h.
_HAND_SIZES = {
    "pdc_ref": 16,  # uint8_t[16]
    "pdc_fn": 16,  # two pointers
    "pdc_value": 24,  # enum, 4 bytes padding, a 16-byte union
    "pdc_error": 32,  # int, padding, three pointers
    "pdc_object": 80,  # 4+4 pad, i64, f64, data, size, pdc_error (32), pin_
    "pdc_node_info": 1604,  # char[64], int, char[256] x 2, char[512] x 2 (align 4)
    "pdc_opts": 72,  # double, ptr, int+pad, ptr, int+pad, ptr, int+pad, ptr, ptr
    "pdc_actor_opts": 88,  # double, ptr, int+pad, ptr, ptr, int, int, ptr, int+pad, ptr, ptr, int, int
    "pdc_method": 16,  # two pointers
    "pdc_actor_class": 32,  # four pointers
}


def _c_layout(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    inc = T.include_dir()
    if not cc or not inc:
        return None
    src = tmp_path / "layout.c"
    exe = tmp_path / "layout"
    src.write_text(_c_program())
    subprocess.run([cc, "-std=c11", "-I", inc, str(src), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    sizes, offsets, consts = {}, {}, {}
    for line in out.splitlines():
        kind, name, value = line.split()
        {"size": sizes, "offset": offsets, "const": consts}[kind][name] = int(value)
    return sizes, offsets, consts


def test_struct_sizes_and_offsets_match_c(tmp_path):
    layout = _c_layout(tmp_path)
    if layout is None:
        for cname, struct in _lib.STRUCTS.items():
            assert ctypes.sizeof(struct) == _HAND_SIZES[cname], cname
        pytest.skip("no C compiler or pdc.h: checked the sizes against the hand-computed LP64 ones")
    sizes, offsets, _ = layout
    for cname, struct in _lib.STRUCTS.items():
        assert ctypes.sizeof(struct) == sizes[cname], cname
        assert ctypes.alignment(struct) <= 8
        for path, off in _fields(struct):
            assert off == offsets["%s.%s" % (cname, path)], "%s.%s" % (cname, path)


def test_hand_computed_sizes_hold_on_lp64():
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        pytest.skip("not an LP64 platform")
    for cname, struct in _lib.STRUCTS.items():
        assert ctypes.sizeof(struct) == _HAND_SIZES[cname], cname


def test_constants_match_c(tmp_path):
    layout = _c_layout(tmp_path)
    if layout is None:
        pytest.skip("no C compiler or pdc.h")
    consts = layout[2]
    for name, value in _constants().items():
        assert consts[name] == value, name


def _header_declarations():
    inc = T.include_dir()
    if not inc:
        pytest.skip("pdc.h not found (set PDC_INCLUDE_DIR)")
    with open(os.path.join(inc, "pdc.h")) as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    decls = {}
    for m in re.finditer(
        r"PDC_EXPORT\s+[^;{]*?\b(pdc_\w+)\s*\(([^;{]*?)\)\s*(__attribute__|;)", text
    ):
        params = " ".join(m.group(2).split())
        parts = [p for p in params.split(",") if p.strip() not in ("", "void", "...")]
        decls[m.group(1)] = len(parts)
    return decls


def test_binds_exactly_what_pdc_h_declares():
    decls = _header_declarations()
    assert len(decls) > 40
    assert set(_lib.PROTOTYPES) == set(decls)
    for name, nargs in decls.items():
        assert len(_lib.PROTOTYPES[name][1]) == nargs, name


def test_every_status_code_has_its_name_and_class():
    import pdc

    codes = {k: v for k, v in _constants().items() if re.fullmatch(r"PDC_E[A-Z]+|PDC_OK", k)}
    assert len(codes) == 19
    for name, code in codes.items():
        assert _lib.status_name(code) == name
        if code:
            cls = pdc._errors.CODES[code]
            assert issubclass(cls, pdc.PdcError) and cls.code == code
            e = cls("why")
            assert e.status == name and name in str(e) and "why" in str(e)
