;; The per-row hashes of ContentChecksum (content-checksum.ts holds the same algorithm in
;; TypeScript, the reference) in WebAssembly: 1.5-2x faster than the TypeScript on this
;; project's bench data, which matters because every backed-up and every restored byte goes
;; through it. scripts/build-row-hash.mjs compiles this file into row-hash-wasm.ts.
;;
;; hashRows(data, ends, count, trim): rows lie back to back from `data`; `ends` holds `count`
;; u32 offsets (relative to `data`) just past each row; `trim` bytes are dropped from each row's
;; end (1 for text COPY's newline). Returns sumB << 32 | sumA, both sums modulo 2^32.
;; Addresses stay below 2^31 (row-hash.ts limits the input), so the loops compare signed, as the
;; TypeScript's number comparisons do, even for a row shorter than `trim`.
(module
  (memory (export "memory") 1)
  (func $fmix (param $h i32) (result i32)
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x85ebca6b)))
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0xc2b2ae35)))
    (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
  (func (export "hashRows") (param $data i32) (param $ends i32) (param $count i32) (param $trim i32) (result i64)
    (local $sumA i32) (local $sumB i32) (local $r i32) (local $start i32) (local $rowEnd i32)
    (local $len i32) (local $a i32) (local $b i32) (local $i i32) (local $last i32) (local $w i32)
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $r) (local.get $count)))
        (local.set $rowEnd (i32.load (i32.add (local.get $ends) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $last (i32.add (local.get $data) (i32.sub (local.get $rowEnd) (local.get $trim))))
        (local.set $i (i32.add (local.get $data) (local.get $start)))
        (local.set $len (i32.sub (local.get $last) (local.get $i)))
        (local.set $a (i32.xor (i32.const 0x811c9dc5) (local.get $len)))
        (local.set $b (i32.const 0x2545f491))
        ;; 4-byte little-endian words
        (block $wdone
          (loop $words
            (br_if $wdone (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $last)))
            (local.set $w (i32.load align=1 (local.get $i)))
            (local.set $a (i32.mul (i32.xor (local.get $a) (local.get $w)) (i32.const 0x01000193)))
            (local.set $a (i32.xor (local.get $a) (i32.shr_u (local.get $a) (i32.const 15))))
            (local.set $b (i32.mul (i32.add (local.get $b) (local.get $w)) (i32.const 0x5bd1e995)))
            (local.set $b (i32.xor (local.get $b) (i32.shr_u (local.get $b) (i32.const 13))))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $words)))
        ;; the 0-3 tail bytes
        (block $tdone
          (loop $tail
            (br_if $tdone (i32.ge_s (local.get $i) (local.get $last)))
            (local.set $w (i32.load8_u (local.get $i)))
            (local.set $a (i32.mul (i32.xor (local.get $a) (local.get $w)) (i32.const 0x01000193)))
            (local.set $b (i32.mul (i32.add (local.get $b) (local.get $w)) (i32.const 0x5bd1e995)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $tail)))
        (local.set $sumA (i32.add (local.get $sumA) (call $fmix (local.get $a))))
        (local.set $sumB (i32.add (local.get $sumB) (call $fmix (i32.xor (local.get $b) (i32.mul (local.get $len) (i32.const 0x9e3779b1))))))
        (local.set $start (local.get $rowEnd))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows)))
    (i64.or (i64.extend_i32_u (local.get $sumA)) (i64.shl (i64.extend_i32_u (local.get $sumB)) (i64.const 32))))
)
