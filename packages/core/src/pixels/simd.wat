;; Atelier's WebAssembly SIMD kernels: the pixel loops whose JavaScript versions are at what V8
;; does with scalar code (integer ones; pencil_lines in doubles; ink_rows, widen_rows and
;; kuwahara_row in single precision, as their JavaScript twins round). Each function computes
;; exactly what its JavaScript twin computes (the tests compare them sample for sample); simd.ts
;; copies rows in and out of this module's memory, or keeps them there (ink_rows, widen_rows and
;; kuwahara_row read rows the caller filled in place).
;;
;; Assembled by `pnpm build:wasm` (scripts/build-wasm.ts, with wabt) into simd-wasm.ts. Addresses
;; are byte offsets into the module's own memory; every function works on whole rows the caller
;; has copied in, and writes only where it is told to.
(module
  (memory (export "memory") 1)

  ;; ---------------------------------------------------------------------------------------------
  ;; halve_luma: 2x2 box average of RGB into fixed-point luma, as core's halveLumaRow:
  ;; (77 r + 150 g + 29 b + 128) >> 8 with r, g, b the sums of four pixels (0-1020 each).
  ;; `rows` output rows of `w` samples (u16, dense) at `dst`, from source rows of `row_bytes`
  ;; bytes at `src` (output row y reads source rows 2y and 2y+1, from their first byte). Reads up
  ;; to 4 bytes past a source row's last pixel.

  ;; Two output samples' weighted sums from 16 bytes of each source row at `a` and `b` (their
  ;; first 12: four pixels): [77 r + 150 g of sample 0, of sample 1, 29 b of sample 0, of 1].
  (func $halve2 (param $a i32) (param $b i32) (result v128)
    (i32x4.dot_i16x8_s
      (i16x8.add
        ;; R0 R1 G0 G1 R2 R3 G2 G3 B0 B1 0 0 B2 B3 0 0, summed in pairs: r, g, r, g, b, 0, b, 0.
        (i16x8.extadd_pairwise_i8x16_u
          (i8x16.shuffle 0 3 1 4 6 9 7 10 2 5 16 16 8 11 16 16 (v128.load (local.get $a)) (v128.const i64x2 0 0)))
        (i16x8.extadd_pairwise_i8x16_u
          (i8x16.shuffle 0 3 1 4 6 9 7 10 2 5 16 16 8 11 16 16 (v128.load (local.get $b)) (v128.const i64x2 0 0))))
      (v128.const i16x8 77 150 77 150 29 0 29 0)))

  ;; Four output samples, rounded, from the $halve2 sums of samples 0-1 and 2-3.
  (func $halve4 (param $d0 v128) (param $d1 v128) (result v128)
    (i32x4.shr_u
      (i32x4.add
        (i32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $d0) (local.get $d1))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $d0) (local.get $d1)))
        (v128.const i32x4 128 128 128 128))
      (i32.const 8)))

  (func $halve_luma (export "halve_luma")
    (param $src i32) (param $row_bytes i32) (param $w i32) (param $rows i32) (param $dst i32)
    (local $y i32) (local $x i32) (local $pa i32) (local $pb i32) (local $po i32)
    (local $sr i32) (local $sg i32) (local $sb i32)
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $pa (i32.add (local.get $src) (i32.mul (i32.shl (local.get $y) (i32.const 1)) (local.get $row_bytes))))
        (local.set $pb (i32.add (local.get $pa) (local.get $row_bytes)))
        (local.set $po (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $y) (local.get $w)) (i32.const 1))))
        (local.set $x (i32.const 0))
        ;; Eight output samples from 16 pixels (48 bytes) of each source row, in four loads of 16
        ;; bytes 12 apart.
        (block $vdone
          (loop $vec
            (br_if $vdone (i32.gt_u (i32.add (local.get $x) (i32.const 8)) (local.get $w)))
            (v128.store (local.get $po)
              (i16x8.narrow_i32x4_u
                (call $halve4
                  (call $halve2 (local.get $pa) (local.get $pb))
                  (call $halve2 (i32.add (local.get $pa) (i32.const 12)) (i32.add (local.get $pb) (i32.const 12))))
                (call $halve4
                  (call $halve2 (i32.add (local.get $pa) (i32.const 24)) (i32.add (local.get $pb) (i32.const 24)))
                  (call $halve2 (i32.add (local.get $pa) (i32.const 36)) (i32.add (local.get $pb) (i32.const 36))))))
            (local.set $pa (i32.add (local.get $pa) (i32.const 48)))
            (local.set $pb (i32.add (local.get $pb) (i32.const 48)))
            (local.set $po (i32.add (local.get $po) (i32.const 16)))
            (local.set $x (i32.add (local.get $x) (i32.const 8)))
            (br $vec)))
        ;; The rest of the row, one sample at a time.
        (block $sdone
          (loop $one
            (br_if $sdone (i32.ge_u (local.get $x) (local.get $w)))
            (local.set $sr (i32.add
              (i32.add (i32.load8_u (local.get $pa)) (i32.load8_u offset=3 (local.get $pa)))
              (i32.add (i32.load8_u (local.get $pb)) (i32.load8_u offset=3 (local.get $pb)))))
            (local.set $sg (i32.add
              (i32.add (i32.load8_u offset=1 (local.get $pa)) (i32.load8_u offset=4 (local.get $pa)))
              (i32.add (i32.load8_u offset=1 (local.get $pb)) (i32.load8_u offset=4 (local.get $pb)))))
            (local.set $sb (i32.add
              (i32.add (i32.load8_u offset=2 (local.get $pa)) (i32.load8_u offset=5 (local.get $pa)))
              (i32.add (i32.load8_u offset=2 (local.get $pb)) (i32.load8_u offset=5 (local.get $pb)))))
            (i32.store16 (local.get $po)
              (i32.shr_u
                (i32.add
                  (i32.add (i32.mul (local.get $sr) (i32.const 77)) (i32.mul (local.get $sg) (i32.const 150)))
                  (i32.add (i32.mul (local.get $sb) (i32.const 29)) (i32.const 128)))
                (i32.const 8)))
            (local.set $pa (i32.add (local.get $pa) (i32.const 6)))
            (local.set $pb (i32.add (local.get $pb) (i32.const 6)))
            (local.set $po (i32.add (local.get $po) (i32.const 2)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $one)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $row))))

  ;; ---------------------------------------------------------------------------------------------
  ;; The 5-tap binomial [1 4 6 4 1] / 16 of gaussianBlurU16, rounded, edges repeated; samples up
  ;; to 4095 (sums fit 16 bits).

  ;; Sample i of the row at `s` (n samples), the index clamped to the row.
  (func $at (param $s i32) (param $i i32) (param $n i32) (result i32)
    (i32.load16_u
      (i32.add (local.get $s)
        (i32.shl
          (select (i32.const 0)
            (select (i32.sub (local.get $n) (i32.const 1)) (local.get $i)
              (i32.ge_s (local.get $i) (local.get $n)))
            (i32.lt_s (local.get $i) (i32.const 0)))
          (i32.const 1)))))

  ;; (a + 4 b + 6 c + 4 d + e + 8) >> 4
  (func $tap5 (param $a i32) (param $b i32) (param $c i32) (param $d i32) (param $e i32) (result i32)
    (i32.shr_u
      (i32.add
        (i32.add (i32.add (local.get $a) (local.get $e)) (i32.shl (i32.add (local.get $b) (local.get $d)) (i32.const 2)))
        (i32.add (i32.mul (local.get $c) (i32.const 6)) (i32.const 8)))
      (i32.const 4)))

  (func $tap5x8 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (param $e v128) (result v128)
    (i16x8.shr_u
      (i16x8.add
        (i16x8.add (i16x8.add (local.get $a) (local.get $e)) (i16x8.shl (i16x8.add (local.get $b) (local.get $d)) (i32.const 2)))
        (i16x8.add
          (i16x8.add (i16x8.shl (local.get $c) (i32.const 2)) (i16x8.shl (local.get $c) (i32.const 1)))
          (v128.const i16x8 8 8 8 8 8 8 8 8)))
      (i32.const 4)))

  ;; Rows: `rows` rows of `n` samples at `src`, filtered along the row into `dst` (same layout).
  (func (export "binomial_rows") (param $src i32) (param $dst i32) (param $n i32) (param $rows i32)
    (local $y i32) (local $x i32) (local $s i32) (local $d i32)
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $s (i32.add (local.get $src) (i32.shl (i32.mul (local.get $y) (local.get $n)) (i32.const 1))))
        (local.set $d (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $y) (local.get $n)) (i32.const 1))))
        (local.set $x (i32.const 0))
        ;; The first two samples (their left neighbours repeat the edge), then eight at a time
        ;; while all five taps are inside the row, then the rest.
        (block $head
          (loop $h
            (br_if $head (i32.ge_u (local.get $x) (select (i32.const 2) (local.get $n) (i32.gt_u (local.get $n) (i32.const 2)))))
            (i32.store16 (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 1)))
              (call $tap5
                (call $at (local.get $s) (i32.sub (local.get $x) (i32.const 2)) (local.get $n))
                (call $at (local.get $s) (i32.sub (local.get $x) (i32.const 1)) (local.get $n))
                (call $at (local.get $s) (local.get $x) (local.get $n))
                (call $at (local.get $s) (i32.add (local.get $x) (i32.const 1)) (local.get $n))
                (call $at (local.get $s) (i32.add (local.get $x) (i32.const 2)) (local.get $n))))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $h)))
        (block $vdone
          (loop $vec
            (br_if $vdone (i32.gt_s (i32.add (local.get $x) (i32.const 10)) (local.get $n)))
            (v128.store (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 1)))
              (call $tap5x8
                (v128.load (i32.sub (i32.add (local.get $s) (i32.shl (local.get $x) (i32.const 1))) (i32.const 4)))
                (v128.load (i32.sub (i32.add (local.get $s) (i32.shl (local.get $x) (i32.const 1))) (i32.const 2)))
                (v128.load (i32.add (local.get $s) (i32.shl (local.get $x) (i32.const 1))))
                (v128.load offset=2 (i32.add (local.get $s) (i32.shl (local.get $x) (i32.const 1))))
                (v128.load offset=4 (i32.add (local.get $s) (i32.shl (local.get $x) (i32.const 1))))))
            (local.set $x (i32.add (local.get $x) (i32.const 8)))
            (br $vec)))
        (block $tdone
          (loop $t
            (br_if $tdone (i32.ge_u (local.get $x) (local.get $n)))
            (i32.store16 (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 1)))
              (call $tap5
                (call $at (local.get $s) (i32.sub (local.get $x) (i32.const 2)) (local.get $n))
                (call $at (local.get $s) (i32.sub (local.get $x) (i32.const 1)) (local.get $n))
                (call $at (local.get $s) (local.get $x) (local.get $n))
                (call $at (local.get $s) (i32.add (local.get $x) (i32.const 1)) (local.get $n))
                (call $at (local.get $s) (i32.add (local.get $x) (i32.const 2)) (local.get $n))))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $t)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $row))))

  ;; Byte address of row y (clamped to 0..rows-1) of rows of n samples at `base`.
  (func $row_at (param $base i32) (param $y i32) (param $rows i32) (param $n i32) (result i32)
    (i32.add (local.get $base)
      (i32.shl
        (i32.mul
          (select (i32.const 0)
            (select (i32.sub (local.get $rows) (i32.const 1)) (local.get $y)
              (i32.ge_s (local.get $y) (local.get $rows)))
            (i32.lt_s (local.get $y) (i32.const 0)))
          (local.get $n))
        (i32.const 1))))

  ;; Columns: rows `first` to `first + count - 1` of the `rows` rows of `n` samples at `src`
  ;; (neighbours past its first and last row repeat them), filtered down the columns into rows 0
  ;; to count - 1 at `dst`.
  (func (export "binomial_columns")
    (param $src i32) (param $dst i32) (param $n i32) (param $rows i32) (param $first i32) (param $count i32)
    (local $j i32) (local $y i32) (local $x i32) (local $o i32)
    (local $m2 i32) (local $m1 i32) (local $c i32) (local $p1 i32) (local $p2 i32)
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $j) (local.get $count)))
        (local.set $y (i32.add (local.get $first) (local.get $j)))
        (local.set $m2 (call $row_at (local.get $src) (i32.sub (local.get $y) (i32.const 2)) (local.get $rows) (local.get $n)))
        (local.set $m1 (call $row_at (local.get $src) (i32.sub (local.get $y) (i32.const 1)) (local.get $rows) (local.get $n)))
        (local.set $c (call $row_at (local.get $src) (local.get $y) (local.get $rows) (local.get $n)))
        (local.set $p1 (call $row_at (local.get $src) (i32.add (local.get $y) (i32.const 1)) (local.get $rows) (local.get $n)))
        (local.set $p2 (call $row_at (local.get $src) (i32.add (local.get $y) (i32.const 2)) (local.get $rows) (local.get $n)))
        (local.set $o (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $j) (local.get $n)) (i32.const 1))))
        (local.set $x (i32.const 0))
        (block $vdone
          (loop $vec
            (br_if $vdone (i32.gt_u (i32.add (local.get $x) (i32.const 8)) (local.get $n)))
            (v128.store (local.get $o)
              (call $tap5x8 (v128.load (local.get $m2)) (v128.load (local.get $m1)) (v128.load (local.get $c))
                (v128.load (local.get $p1)) (v128.load (local.get $p2))))
            (local.set $m2 (i32.add (local.get $m2) (i32.const 16)))
            (local.set $m1 (i32.add (local.get $m1) (i32.const 16)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (local.set $p1 (i32.add (local.get $p1) (i32.const 16)))
            (local.set $p2 (i32.add (local.get $p2) (i32.const 16)))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (local.set $x (i32.add (local.get $x) (i32.const 8)))
            (br $vec)))
        (block $tdone
          (loop $t
            (br_if $tdone (i32.ge_u (local.get $x) (local.get $n)))
            (i32.store16 (local.get $o)
              (call $tap5 (i32.load16_u (local.get $m2)) (i32.load16_u (local.get $m1)) (i32.load16_u (local.get $c))
                (i32.load16_u (local.get $p1)) (i32.load16_u (local.get $p2))))
            (local.set $m2 (i32.add (local.get $m2) (i32.const 2)))
            (local.set $m1 (i32.add (local.get $m1) (i32.const 2)))
            (local.set $c (i32.add (local.get $c) (i32.const 2)))
            (local.set $p1 (i32.add (local.get $p1) (i32.const 2)))
            (local.set $p2 (i32.add (local.get $p2) (i32.const 2)))
            (local.set $o (i32.add (local.get $o) (i32.const 2)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $t)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $row))))

  ;; ---------------------------------------------------------------------------------------------
  ;; The box passes of gaussianBlurU16: each sample the sum S of the 2 rad + 1 = d samples around
  ;; it (edges repeated), as JavaScript computes it: trunc(S * (1 / d) + 0.5) in doubles. For d
  ;; odd that is exactly floor((2 S + d) / (2 d)): S / d + 1/2 is never a whole number and lies at
  ;; least 1 / (2 d) from one, far more than the doubles' rounding. Here the quotient is taken in
  ;; single precision, also exact while d < 2048 (2 S + d < 2^24 converts exactly, and the
  ;; division's error, at most 2^-24 of a quotient below 4096, stays under 1 / (2 d)); the caller
  ;; keeps to that. Rows of `n` samples of which the first `w` are filtered; the others are copied.

  ;; Four sums (i32 lanes) to their samples (i32 lanes); `d` and `d2` splat d and 2 d (f32).
  (func $box4 (param $sums v128) (param $d v128) (param $d2 v128) (result v128)
    (i32x4.trunc_sat_f32x4_s
      (f32x4.div
        (f32x4.convert_i32x4_s (i32x4.add (i32x4.shl (local.get $sums) (i32.const 1)) (local.get $d)))
        (local.get $d2))))

  (func $box1 (param $sum i32) (param $d i32) (result i32)
    (i32.trunc_sat_f32_s
      (f32.div
        (f32.convert_i32_s (i32.add (i32.shl (local.get $sum) (i32.const 1)) (local.get $d)))
        (f32.convert_i32_s (i32.shl (local.get $d) (i32.const 1))))))

  ;; Rows: `rows` rows at `src` filtered along the row into `dst`; `pre` is scratch for
  ;; 4 (w + 2 rad + 1) bytes.
  (func (export "box_rows")
    (param $src i32) (param $dst i32) (param $n i32) (param $w i32) (param $rows i32) (param $rad i32)
    (param $pre i32)
    (local $y i32) (local $x i32) (local $s i32) (local $d i32) (local $acc i32) (local $p i32)
    (local $edge i32) (local $span i32) (local $dv v128) (local $d2 v128) (local $k i32) (local $sum v128)
    (local $di i32)
    (local.set $di (i32.add (i32.shl (local.get $rad) (i32.const 1)) (i32.const 1)))
    (local.set $dv (i32x4.splat (local.get $di)))
    (local.set $d2 (f32x4.splat (f32.convert_i32_s (i32.shl (local.get $di) (i32.const 1)))))
    (local.set $span (i32.shl (local.get $di) (i32.const 2)))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $s (i32.add (local.get $src) (i32.shl (i32.mul (local.get $y) (local.get $n)) (i32.const 1))))
        (local.set $d (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $y) (local.get $n)) (i32.const 1))))
        (if (i32.le_u (local.get $rad) (i32.const 7))
          (then
            ;; Up to 15 samples a window: the sums fit 16 bits. The row padded with rad copies of
            ;; its first and last samples (u16 at `pre`), then each window summed by vectors.
            (local.set $edge (i32.load16_u (local.get $s)))
            (local.set $p (local.get $pre))
            (local.set $x (i32.const 0))
            (block $h1 (loop $l1
              (br_if $h1 (i32.ge_u (local.get $x) (local.get $rad)))
              (i32.store16 (local.get $p) (local.get $edge))
              (local.set $p (i32.add (local.get $p) (i32.const 2)))
              (local.set $x (i32.add (local.get $x) (i32.const 1)))
              (br $l1)))
            (memory.copy (local.get $p) (local.get $s) (i32.shl (local.get $w) (i32.const 1)))
            (local.set $p (i32.add (local.get $p) (i32.shl (local.get $w) (i32.const 1))))
            (local.set $edge (i32.load16_u (i32.add (local.get $s) (i32.shl (i32.sub (local.get $w) (i32.const 1)) (i32.const 1)))))
            (local.set $x (i32.const 0))
            (block $h3 (loop $l3
              (br_if $h3 (i32.ge_u (local.get $x) (local.get $rad)))
              (i32.store16 (local.get $p) (local.get $edge))
              (local.set $p (i32.add (local.get $p) (i32.const 2)))
              (local.set $x (i32.add (local.get $x) (i32.const 1)))
              (br $l3)))
            (local.set $x (i32.const 0))
            (block $vdone (loop $vec
              (br_if $vdone (i32.gt_u (i32.add (local.get $x) (i32.const 8)) (local.get $w)))
              (local.set $p (i32.add (local.get $pre) (i32.shl (local.get $x) (i32.const 1))))
              (local.set $sum (v128.load (local.get $p)))
              (local.set $k (i32.const 1))
              (block $kdone (loop $each
                (br_if $kdone (i32.ge_u (local.get $k) (local.get $di)))
                (local.set $sum (i16x8.add (local.get $sum) (v128.load (i32.add (local.get $p) (i32.shl (local.get $k) (i32.const 1))))))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $each)))
              (v128.store (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 1)))
                (i16x8.narrow_i32x4_u
                  (call $box4 (i32x4.extend_low_i16x8_u (local.get $sum)) (local.get $dv) (local.get $d2))
                  (call $box4 (i32x4.extend_high_i16x8_u (local.get $sum)) (local.get $dv) (local.get $d2))))
              (local.set $x (i32.add (local.get $x) (i32.const 8)))
              (br $vec)))
            (block $tdone (loop $t
              (br_if $tdone (i32.ge_u (local.get $x) (local.get $w)))
              (local.set $p (i32.add (local.get $pre) (i32.shl (local.get $x) (i32.const 1))))
              (local.set $acc (i32.const 0))
              (local.set $k (i32.const 0))
              (block $kdone1 (loop $each1
                (br_if $kdone1 (i32.ge_u (local.get $k) (local.get $di)))
                (local.set $acc (i32.add (local.get $acc) (i32.load16_u (i32.add (local.get $p) (i32.shl (local.get $k) (i32.const 1))))))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $each1)))
              (i32.store16 (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 1))) (call $box1 (local.get $acc) (local.get $di)))
              (local.set $x (i32.add (local.get $x) (i32.const 1)))
              (br $t))))
          (else
            ;; Wider windows: prefix sums (i32 at `pre`) of the padded row, and each window the
            ;; difference of two of them.
            (local.set $acc (i32.const 0))
            (local.set $p (local.get $pre))
            (i32.store (local.get $p) (i32.const 0))
            (local.set $edge (i32.load16_u (local.get $s)))
            (local.set $x (i32.const 0))
            (block $g1 (loop $m1
              (br_if $g1 (i32.ge_u (local.get $x) (local.get $rad)))
              (local.set $acc (i32.add (local.get $acc) (local.get $edge)))
              (local.set $p (i32.add (local.get $p) (i32.const 4)))
              (i32.store (local.get $p) (local.get $acc))
              (local.set $x (i32.add (local.get $x) (i32.const 1)))
              (br $m1)))
            (local.set $x (i32.const 0))
            (block $g2 (loop $m2
              (br_if $g2 (i32.ge_u (local.get $x) (local.get $w)))
              (local.set $acc (i32.add (local.get $acc) (i32.load16_u (i32.add (local.get $s) (i32.shl (local.get $x) (i32.const 1))))))
              (local.set $p (i32.add (local.get $p) (i32.const 4)))
              (i32.store (local.get $p) (local.get $acc))
              (local.set $x (i32.add (local.get $x) (i32.const 1)))
              (br $m2)))
            (local.set $edge (i32.load16_u (i32.add (local.get $s) (i32.shl (i32.sub (local.get $w) (i32.const 1)) (i32.const 1)))))
            (local.set $x (i32.const 0))
            (block $g3 (loop $m3
              (br_if $g3 (i32.ge_u (local.get $x) (local.get $rad)))
              (local.set $acc (i32.add (local.get $acc) (local.get $edge)))
              (local.set $p (i32.add (local.get $p) (i32.const 4)))
              (i32.store (local.get $p) (local.get $acc))
              (local.set $x (i32.add (local.get $x) (i32.const 1)))
              (br $m3)))
            (local.set $x (i32.const 0))
            (local.set $p (local.get $pre))
            (block $wdone (loop $wvec
              (br_if $wdone (i32.gt_u (i32.add (local.get $x) (i32.const 8)) (local.get $w)))
              (v128.store (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 1)))
                (i16x8.narrow_i32x4_u
                  (call $box4
                    (i32x4.sub (v128.load (i32.add (local.get $p) (local.get $span))) (v128.load (local.get $p)))
                    (local.get $dv) (local.get $d2))
                  (call $box4
                    (i32x4.sub (v128.load offset=16 (i32.add (local.get $p) (local.get $span))) (v128.load offset=16 (local.get $p)))
                    (local.get $dv) (local.get $d2))))
              (local.set $p (i32.add (local.get $p) (i32.const 32)))
              (local.set $x (i32.add (local.get $x) (i32.const 8)))
              (br $wvec)))
            (block $udone (loop $u
              (br_if $udone (i32.ge_u (local.get $x) (local.get $w)))
              (i32.store16 (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 1)))
                (call $box1 (i32.sub (i32.load (i32.add (local.get $p) (local.get $span))) (i32.load (local.get $p))) (local.get $di)))
              (local.set $p (i32.add (local.get $p) (i32.const 4)))
              (local.set $x (i32.add (local.get $x) (i32.const 1)))
              (br $u)))))
        (call $spare (local.get $s) (local.get $d) (local.get $w) (local.get $n))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $row))))

  ;; Samples w to n - 1 of the row at `s` copied to the row at `d`.
  (func $spare (param $s i32) (param $d i32) (param $w i32) (param $n i32)
    (block $done (loop $one
      (br_if $done (i32.ge_u (local.get $w) (local.get $n)))
      (i32.store16 (i32.add (local.get $d) (i32.shl (local.get $w) (i32.const 1)))
        (i32.load16_u (i32.add (local.get $s) (i32.shl (local.get $w) (i32.const 1)))))
      (local.set $w (i32.add (local.get $w) (i32.const 1)))
      (br $one))))

  ;; acc[x] plus (or, with `sub` 1, minus) sample x of the row at `r`, for x below w (i32 sums at `acc`).
  (func $acc_row (param $acc i32) (param $r i32) (param $w i32) (param $sub i32)
    (local $x i32) (local $v v128)
    (block $vdone (loop $vec
      (br_if $vdone (i32.gt_u (i32.add (local.get $x) (i32.const 8)) (local.get $w)))
      (local.set $v (v128.load (i32.add (local.get $r) (i32.shl (local.get $x) (i32.const 1)))))
      (if (local.get $sub)
        (then
          (v128.store (local.get $acc) (i32x4.sub (v128.load (local.get $acc)) (i32x4.extend_low_i16x8_u (local.get $v))))
          (v128.store offset=16 (local.get $acc)
            (i32x4.sub (v128.load offset=16 (local.get $acc)) (i32x4.extend_high_i16x8_u (local.get $v)))))
        (else
          (v128.store (local.get $acc) (i32x4.add (v128.load (local.get $acc)) (i32x4.extend_low_i16x8_u (local.get $v))))
          (v128.store offset=16 (local.get $acc)
            (i32x4.add (v128.load offset=16 (local.get $acc)) (i32x4.extend_high_i16x8_u (local.get $v))))))
      (local.set $acc (i32.add (local.get $acc) (i32.const 32)))
      (local.set $x (i32.add (local.get $x) (i32.const 8)))
      (br $vec)))
    (block $tdone (loop $t
      (br_if $tdone (i32.ge_u (local.get $x) (local.get $w)))
      (i32.store (local.get $acc)
        (select
          (i32.sub (i32.load (local.get $acc)) (i32.load16_u (i32.add (local.get $r) (i32.shl (local.get $x) (i32.const 1)))))
          (i32.add (i32.load (local.get $acc)) (i32.load16_u (i32.add (local.get $r) (i32.shl (local.get $x) (i32.const 1)))))
          (local.get $sub)))
      (local.set $acc (i32.add (local.get $acc) (i32.const 4)))
      (local.set $x (i32.add (local.get $x) (i32.const 1)))
      (br $t))))

  ;; Columns: rows `first` to `first + count - 1` of the `rows` rows at `src` (neighbours past its
  ;; first and last row repeat them) filtered down the columns into rows 0 to count - 1 at `dst`;
  ;; `acc` is scratch for 4 w bytes of column sums.
  (func (export "box_columns")
    (param $src i32) (param $dst i32) (param $n i32) (param $w i32) (param $rows i32)
    (param $first i32) (param $count i32) (param $rad i32) (param $acc i32)
    (local $j i32) (local $k i32) (local $x i32) (local $d i32) (local $a i32) (local $di i32)
    (local $dv v128) (local $d2 v128)
    (local.set $di (i32.add (i32.shl (local.get $rad) (i32.const 1)) (i32.const 1)))
    (local.set $dv (i32x4.splat (local.get $di)))
    (local.set $d2 (f32x4.splat (f32.convert_i32_s (i32.shl (local.get $di) (i32.const 1)))))
    ;; The sums of the window around row `first`.
    (memory.fill (local.get $acc) (i32.const 0) (i32.shl (local.get $w) (i32.const 2)))
    (local.set $k (i32.sub (local.get $first) (local.get $rad)))
    (block $idone (loop $init
      (br_if $idone (i32.gt_s (local.get $k) (i32.add (local.get $first) (local.get $rad))))
      (call $acc_row (local.get $acc) (call $row_at (local.get $src) (local.get $k) (local.get $rows) (local.get $n))
        (local.get $w) (i32.const 0))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $init)))
    (block $done (loop $row
      (br_if $done (i32.ge_u (local.get $j) (local.get $count)))
      (local.set $d (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $j) (local.get $n)) (i32.const 1))))
      (local.set $x (i32.const 0))
      (local.set $a (local.get $acc))
      (block $vdone (loop $vec
        (br_if $vdone (i32.gt_u (i32.add (local.get $x) (i32.const 8)) (local.get $w)))
        (v128.store (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 1)))
          (i16x8.narrow_i32x4_u
            (call $box4 (v128.load (local.get $a)) (local.get $dv) (local.get $d2))
            (call $box4 (v128.load offset=16 (local.get $a)) (local.get $dv) (local.get $d2))))
        (local.set $a (i32.add (local.get $a) (i32.const 32)))
        (local.set $x (i32.add (local.get $x) (i32.const 8)))
        (br $vec)))
      (block $tdone (loop $t
        (br_if $tdone (i32.ge_u (local.get $x) (local.get $w)))
        (i32.store16 (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 1)))
          (call $box1 (i32.load (local.get $a)) (local.get $di)))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $x (i32.add (local.get $x) (i32.const 1)))
        (br $t)))
      (call $spare
        (call $row_at (local.get $src) (i32.add (local.get $first) (local.get $j)) (local.get $rows) (local.get $n))
        (local.get $d) (local.get $w) (local.get $n))
      ;; Slide the window down one row.
      (call $acc_row (local.get $acc)
        (call $row_at (local.get $src) (i32.add (i32.add (i32.add (local.get $first) (local.get $j)) (local.get $rad)) (i32.const 1))
          (local.get $rows) (local.get $n))
        (local.get $w) (i32.const 0))
      (call $acc_row (local.get $acc)
        (call $row_at (local.get $src) (i32.sub (i32.add (local.get $first) (local.get $j)) (local.get $rad)) (local.get $rows) (local.get $n))
        (local.get $w) (i32.const 1))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $row))))

  ;; ---------------------------------------------------------------------------------------------
  ;; count_values: adds `n` u16 values at `src` to the histogram at `counts`: four tables of
  ;; `bins` i32 counts, value i going to table i & 3 (in a flat area most values fall in one bin,
  ;; and with one table each increment waits for the one before it). Returns 0, or 1 when a value
  ;; is `bins` or more (then the tables hold part of the counts: the caller discards them).
  (func (export "count_values") (param $src i32) (param $n i32) (param $counts i32) (param $bins i32) (result i32)
    (local $end i32) (local $t1 i32) (local $t2 i32) (local $t3 i32) (local $a i32) (local $v i32)
    (local.set $t1 (i32.add (local.get $counts) (i32.shl (local.get $bins) (i32.const 2))))
    (local.set $t2 (i32.add (local.get $t1) (i32.shl (local.get $bins) (i32.const 2))))
    (local.set $t3 (i32.add (local.get $t2) (i32.shl (local.get $bins) (i32.const 2))))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 1))))
    (block $bad
      (block $vdone
        (loop $four
          (br_if $vdone (i32.gt_u (i32.add (local.get $src) (i32.const 8)) (local.get $end)))
          (local.set $v (i32.load16_u (local.get $src)))
          (br_if $bad (i32.ge_u (local.get $v) (local.get $bins)))
          (local.set $a (i32.add (local.get $counts) (i32.shl (local.get $v) (i32.const 2))))
          (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
          (local.set $v (i32.load16_u offset=2 (local.get $src)))
          (br_if $bad (i32.ge_u (local.get $v) (local.get $bins)))
          (local.set $a (i32.add (local.get $t1) (i32.shl (local.get $v) (i32.const 2))))
          (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
          (local.set $v (i32.load16_u offset=4 (local.get $src)))
          (br_if $bad (i32.ge_u (local.get $v) (local.get $bins)))
          (local.set $a (i32.add (local.get $t2) (i32.shl (local.get $v) (i32.const 2))))
          (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
          (local.set $v (i32.load16_u offset=6 (local.get $src)))
          (br_if $bad (i32.ge_u (local.get $v) (local.get $bins)))
          (local.set $a (i32.add (local.get $t3) (i32.shl (local.get $v) (i32.const 2))))
          (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
          (local.set $src (i32.add (local.get $src) (i32.const 8)))
          (br $four)))
      (block $tdone
        (loop $one
          (br_if $tdone (i32.ge_u (local.get $src) (local.get $end)))
          (local.set $v (i32.load16_u (local.get $src)))
          (br_if $bad (i32.ge_u (local.get $v) (local.get $bins)))
          (local.set $a (i32.add (local.get $counts) (i32.shl (local.get $v) (i32.const 2))))
          (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
          (local.set $src (i32.add (local.get $src) (i32.const 2)))
          (br $one)))
      (return (i32.const 0)))
    (i32.const 1))

  ;; ---------------------------------------------------------------------------------------------
  ;; paint_levels: flat RGB painting of posterised tones, as pop art's pixelsRow with a level
  ;; table that rises by one at each threshold. `rows` rows of `n` u16 tones (rows of `stride`
  ;; samples at `src`) are painted `tiles` times side by side into rows of `out_stride` bytes at
  ;; `out` (tile t's pixels from byte 3 n t of the row). A tone's level k is how many of the
  ;; `count` thresholds at `thr` (u16, ascending, at most 15) it reaches; tile t paints it with
  ;; bytes 3k to 3k + 2 of its palette, the 48 bytes at `pal + 48 t`.
  (func (export "paint_levels")
    (param $src i32) (param $stride i32) (param $n i32) (param $rows i32)
    (param $thr i32) (param $count i32) (param $pal i32) (param $tiles i32)
    (param $out i32) (param $out_stride i32)
    (local $y i32) (local $x i32) (local $s i32) (local $o i32) (local $k i32) (local $t i32)
    (local $p i32) (local $q i32) (local $tables i32) (local $tile_bytes i32)
    (local $lo v128) (local $hi v128) (local $tv v128) (local $lv v128)
    (local $i0 v128) (local $i1 v128) (local $i2 v128) (local $v i32) (local $level i32)
    (local $v0 v128) (local $v1 v128) (local $thr_end i32)
    (local.set $thr_end (i32.add (local.get $thr) (i32.shl (local.get $count) (i32.const 1))))
    ;; Palette vectors each colour index needs: 16 bytes hold five colours.
    (local.set $tables
      (select (i32.const 1) (select (i32.const 2) (i32.const 3) (i32.le_u (local.get $count) (i32.const 9)))
        (i32.le_u (local.get $count) (i32.const 4))))
    (local.set $tile_bytes (i32.mul (local.get $n) (i32.const 3)))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $s (i32.add (local.get $src) (i32.shl (i32.mul (local.get $y) (local.get $stride)) (i32.const 1))))
        (local.set $o (i32.add (local.get $out) (i32.mul (local.get $y) (local.get $out_stride))))
        (local.set $x (i32.const 0))
        (block $vdone
          (loop $vec
            (br_if $vdone (i32.gt_u (i32.add (local.get $x) (i32.const 16)) (local.get $n)))
            ;; Levels of 16 tones: minus the sum of the comparisons' all-ones lanes.
            (local.set $v0 (v128.load (local.get $s)))
            (local.set $v1 (v128.load offset=16 (local.get $s)))
            (local.set $lo (v128.const i64x2 0 0))
            (local.set $hi (v128.const i64x2 0 0))
            (local.set $k (local.get $thr))
            (block $kdone
              (loop $each
                (br_if $kdone (i32.ge_u (local.get $k) (local.get $thr_end)))
                (local.set $tv (v128.load16_splat (local.get $k)))
                (local.set $lo (i16x8.sub (local.get $lo) (i16x8.ge_u (local.get $v0) (local.get $tv))))
                (local.set $hi (i16x8.sub (local.get $hi) (i16x8.ge_u (local.get $v1) (local.get $tv))))
                (local.set $k (i32.add (local.get $k) (i32.const 2)))
                (br $each)))
            ;; Palette byte of each output byte: 3 level + channel, for R0 G0 B0 R1 ... R15 G15 B15.
            (local.set $lv (i8x16.narrow_i16x8_u (local.get $lo) (local.get $hi)))
            (local.set $lv (i8x16.add (local.get $lv) (i8x16.add (local.get $lv) (local.get $lv))))
            (local.set $i0 (i8x16.add
              (i8x16.shuffle 0 0 0 1 1 1 2 2 2 3 3 3 4 4 4 5 (local.get $lv) (local.get $lv))
              (v128.const i8x16 0 1 2 0 1 2 0 1 2 0 1 2 0 1 2 0)))
            (local.set $i1 (i8x16.add
              (i8x16.shuffle 5 5 6 6 6 7 7 7 8 8 8 9 9 9 10 10 (local.get $lv) (local.get $lv))
              (v128.const i8x16 1 2 0 1 2 0 1 2 0 1 2 0 1 2 0 1)))
            (local.set $i2 (i8x16.add
              (i8x16.shuffle 10 11 11 11 12 12 12 13 13 13 14 14 14 15 15 15 (local.get $lv) (local.get $lv))
              (v128.const i8x16 2 0 1 2 0 1 2 0 1 2 0 1 2 0 1 2)))
            ;; Each tile: its palette looked up 16 bytes at a time (an index past a vector's 16
            ;; bytes gives 0 there, so the vectors' lookups combine with or).
            (local.set $t (i32.const 0))
            (local.set $p (local.get $pal))
            (local.set $q (local.get $o))
            (block $tdone
              (loop $tile
                (br_if $tdone (i32.ge_u (local.get $t) (local.get $tiles)))
                (if (i32.eq (local.get $tables) (i32.const 1))
                  (then
                    (v128.store (local.get $q) (i8x16.swizzle (v128.load (local.get $p)) (local.get $i0)))
                    (v128.store offset=16 (local.get $q) (i8x16.swizzle (v128.load (local.get $p)) (local.get $i1)))
                    (v128.store offset=32 (local.get $q) (i8x16.swizzle (v128.load (local.get $p)) (local.get $i2))))
                  (else
                    (v128.store (local.get $q) (call $lookup (local.get $p) (local.get $i0)))
                    (v128.store offset=16 (local.get $q) (call $lookup (local.get $p) (local.get $i1)))
                    (v128.store offset=32 (local.get $q) (call $lookup (local.get $p) (local.get $i2)))))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (local.set $p (i32.add (local.get $p) (i32.const 48)))
                (local.set $q (i32.add (local.get $q) (local.get $tile_bytes)))
                (br $tile)))
            (local.set $s (i32.add (local.get $s) (i32.const 32)))
            (local.set $o (i32.add (local.get $o) (i32.const 48)))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (br $vec)))
        ;; The rest of the row, one pixel at a time in each tile.
        (block $sdone
          (loop $one
            (br_if $sdone (i32.ge_u (local.get $x) (local.get $n)))
            (local.set $v (i32.load16_u (local.get $s)))
            (local.set $level (i32.const 0))
            (local.set $k (i32.const 0))
            (block $kdone1
              (loop $each1
                (br_if $kdone1 (i32.ge_u (local.get $k) (local.get $count)))
                (local.set $level (i32.add (local.get $level)
                  (i32.ge_u (local.get $v) (i32.load16_u (i32.add (local.get $thr) (i32.shl (local.get $k) (i32.const 1)))))))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $each1)))
            (local.set $t (i32.const 0))
            (local.set $p (i32.add (local.get $pal) (i32.mul (local.get $level) (i32.const 3))))
            (local.set $q (local.get $o))
            (block $tdone1
              (loop $tile1
                (br_if $tdone1 (i32.ge_u (local.get $t) (local.get $tiles)))
                (i32.store8 (local.get $q) (i32.load8_u (local.get $p)))
                (i32.store8 offset=1 (local.get $q) (i32.load8_u offset=1 (local.get $p)))
                (i32.store8 offset=2 (local.get $q) (i32.load8_u offset=2 (local.get $p)))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (local.set $p (i32.add (local.get $p) (i32.const 48)))
                (local.set $q (i32.add (local.get $q) (local.get $tile_bytes)))
                (br $tile1)))
            (local.set $s (i32.add (local.get $s) (i32.const 2)))
            (local.set $o (i32.add (local.get $o) (i32.const 3)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $one)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $row))))

  ;; Bytes `idx` of the 48 at `p` (indices below 48).
  (func $lookup (param $p i32) (param $idx v128) (result v128)
    (v128.or
      (v128.or
        (i8x16.swizzle (v128.load (local.get $p)) (local.get $idx))
        (i8x16.swizzle (v128.load offset=16 (local.get $p)) (i8x16.sub (local.get $idx) (v128.const i8x16 16 16 16 16 16 16 16 16 16 16 16 16 16 16 16 16))))
      (i8x16.swizzle (v128.load offset=32 (local.get $p)) (i8x16.sub (local.get $idx) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32)))))

  ;; ---------------------------------------------------------------------------------------------
  ;; bar_lines: thin-lines.ts's barRow on spans of columns of one row, up to its strength tables:
  ;; the `count` spans at `spans` are pairs of i32 [first, end), ascending, within 0 to `n`. For
  ;; each pixel in them that passes barRow's first test and has a dark or light contrast above 0,
  ;; writes its column (i32) at `out_x` and (dark contrast << 16) | light contrast (i32, each 0-255)
  ;; at `out_c`, ascending; returns how many. The caller looks the strengths up.
  ;;
  ;; Rows (bytes, column 0 at the address): `m3`, `m2`, `c0`, `p2`, `p3` are rows y - 3, y - 2,
  ;; y, y + 2, y + 3; c0 is read 3 columns either side, m2 and p2 2, and every row up to 15 bytes
  ;; past column n - 1 (plus those). `tables`: darkFrom (i16 x 256), lightFrom (i16 x 256, from
  ;; byte 512), then at byte 1024 the 32 bounds of a looser first test that 16 pixels take at
  ;; once (per c >> 4 the least darkFrom - c, then the least c - lightFrom, each 0-255): a group
  ;; where no pixel passes it is skipped. `scratch`: 96 bytes for the lanes of a group.
  (func (export "bar_lines")
    (param $m3 i32) (param $m2 i32) (param $c0 i32) (param $p2 i32) (param $p3 i32)
    (param $spans i32) (param $span_count i32)
    (param $tables i32) (param $scratch i32) (param $out_x i32) (param $out_c i32)
    (result i32)
    (local $i i32) (local $n i32) (local $count i32) (local $bits i32) (local $j i32) (local $x i32)
    (local $c i32) (local $contrast i32) (local $span i32)
    (local $cv v128) (local $a1 v128) (local $b1 v128) (local $a2 v128) (local $b2 v128)
    (local $a3 v128) (local $b3 v128) (local $a4 v128) (local $b4 v128)
    (local $hi v128) (local $dark v128) (local $light v128)
    (local.set $dark (v128.load offset=1024 (local.get $tables)))
    (local.set $light (v128.load offset=1040 (local.get $tables)))
    (block $all
      (loop $next_span
        (br_if $all (i32.ge_u (local.get $span) (local.get $span_count)))
        (local.set $i (i32.load (i32.add (local.get $spans) (i32.shl (local.get $span) (i32.const 3)))))
        (local.set $n (i32.load offset=4 (i32.add (local.get $spans) (i32.shl (local.get $span) (i32.const 3)))))
        (local.set $span (i32.add (local.get $span) (i32.const 1)))
        (block $done
          (loop $sixteen
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $cv (v128.load (i32.add (local.get $c0) (local.get $i))))
            (local.set $a1 (v128.load (i32.sub (i32.add (local.get $c0) (local.get $i)) (i32.const 3))))
            (local.set $b1 (v128.load offset=3 (i32.add (local.get $c0) (local.get $i))))
            (local.set $a2 (v128.load (i32.add (local.get $m3) (local.get $i))))
            (local.set $b2 (v128.load (i32.add (local.get $p3) (local.get $i))))
            ;; The larger of the pairs' minima and the smaller of their maxima (barRow's first test).
            (v128.store (local.get $scratch)
              (i8x16.max_u (i8x16.min_u (local.get $a1) (local.get $b1)) (i8x16.min_u (local.get $a2) (local.get $b2))))
            (v128.store offset=16 (local.get $scratch)
              (i8x16.min_u (i8x16.max_u (local.get $a1) (local.get $b1)) (i8x16.max_u (local.get $a2) (local.get $b2))))
            (local.set $hi (i8x16.shr_u (local.get $cv) (i32.const 4)))
            (local.set $bits
              (i8x16.bitmask
                (v128.or
                  (i8x16.ge_u (v128.load (local.get $scratch))
                    (i8x16.add_sat_u (local.get $cv) (i8x16.swizzle (local.get $dark) (local.get $hi))))
                  (i8x16.le_u (v128.load offset=16 (local.get $scratch))
                    (i8x16.sub_sat_u (local.get $cv) (i8x16.swizzle (local.get $light) (local.get $hi)))))))
            (if (local.get $bits)
              (then
                (local.set $a3 (v128.load (i32.sub (i32.add (local.get $m2) (local.get $i)) (i32.const 2))))
                (local.set $a4 (v128.load offset=2 (i32.add (local.get $m2) (local.get $i))))
                (local.set $b3 (v128.load offset=2 (i32.add (local.get $p2) (local.get $i))))
                (local.set $b4 (v128.load (i32.sub (i32.add (local.get $p2) (local.get $i)) (i32.const 2))))
                ;; Contrasts of lanes 0-7 at scratch + 32 (dark) and + 48 (light), of lanes 8-15 at + 64, + 80.
                (call $bar_half (local.get $scratch) (i32.const 0)
                  (local.get $cv) (local.get $a1) (local.get $b1) (local.get $a2) (local.get $b2)
                  (local.get $a3) (local.get $b3) (local.get $a4) (local.get $b4))
                (call $bar_half (local.get $scratch) (i32.const 1)
                  (local.get $cv) (local.get $a1) (local.get $b1) (local.get $a2) (local.get $b2)
                  (local.get $a3) (local.get $b3) (local.get $a4) (local.get $b4))
                (block $group
                  (loop $lanes
                    (br_if $group (i32.eqz (local.get $bits)))
                    (local.set $j (i32.ctz (local.get $bits)))
                    (local.set $bits (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
                    (local.set $x (i32.add (local.get $i) (local.get $j)))
                    (br_if $group (i32.ge_u (local.get $x) (local.get $n)))
                    (local.set $c (i32.load8_u (i32.add (local.get $c0) (local.get $x))))
                    ;; barRow's own first test: larger minimum >= darkFrom[c] or smaller maximum <= lightFrom[c].
                    (if (i32.or
                          (i32.ge_s (i32.load8_u (i32.add (local.get $scratch) (local.get $j)))
                            (i32.load16_s (i32.add (local.get $tables) (i32.shl (local.get $c) (i32.const 1)))))
                          (i32.le_s (i32.load8_u offset=16 (i32.add (local.get $scratch) (local.get $j)))
                            (i32.load16_s offset=512 (i32.add (local.get $tables) (i32.shl (local.get $c) (i32.const 1))))))
                      (then
                        (local.set $contrast
                          (i32.or
                            (i32.shl
                              (i32.load16_s offset=32
                                (i32.add (local.get $scratch)
                                  (i32.add (i32.shl (i32.and (local.get $j) (i32.const 7)) (i32.const 1))
                                    (i32.shl (i32.shr_u (local.get $j) (i32.const 3)) (i32.const 5)))))
                              (i32.const 16))
                            (i32.load16_s offset=48
                              (i32.add (local.get $scratch)
                                (i32.add (i32.shl (i32.and (local.get $j) (i32.const 7)) (i32.const 1))
                                  (i32.shl (i32.shr_u (local.get $j) (i32.const 3)) (i32.const 5)))))))
                        (if (local.get $contrast)
                          (then
                            (i32.store (i32.add (local.get $out_x) (i32.shl (local.get $count) (i32.const 2))) (local.get $x))
                            (i32.store (i32.add (local.get $out_c) (i32.shl (local.get $count) (i32.const 2))) (local.get $contrast))
                            (local.set $count (i32.add (local.get $count) (i32.const 1)))))))
                    (br $lanes)))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $sixteen)))
        (br $next_span)))
    (local.get $count))

  ;; Dark and light contrasts (barRow's dv and lv, at least 0) of lanes 0-7 (`half` 0) or 8-15
  ;; (`half` 1) of a bar_lines group, as i16 at scratch + 32 + 32 half and scratch + 48 + 32 half.
  (func $bar_half (param $scratch i32) (param $half i32)
    (param $cv v128) (param $a1 v128) (param $b1 v128) (param $a2 v128) (param $b2 v128)
    (param $a3 v128) (param $b3 v128) (param $a4 v128) (param $b4 v128)
    (local $c v128) (local $lo_min v128) (local $lo_max v128) (local $hi_min v128) (local $hi_max v128)
    (local $l1 v128) (local $l2 v128) (local $l3 v128) (local $l4 v128)
    (local $h1 v128) (local $h2 v128) (local $h3 v128) (local $h4 v128)
    (local.set $c (call $widen (local.get $cv) (local.get $half)))
    (local.set $l1 (call $near_side (local.get $a1) (local.get $b1) (local.get $half)))
    (local.set $l2 (call $near_side (local.get $a2) (local.get $b2) (local.get $half)))
    (local.set $l3 (call $near_side (local.get $a3) (local.get $b3) (local.get $half)))
    (local.set $l4 (call $near_side (local.get $a4) (local.get $b4) (local.get $half)))
    (local.set $h1 (call $far_side (local.get $a1) (local.get $b1) (local.get $half)))
    (local.set $h2 (call $far_side (local.get $a2) (local.get $b2) (local.get $half)))
    (local.set $h3 (call $far_side (local.get $a3) (local.get $b3) (local.get $half)))
    (local.set $h4 (call $far_side (local.get $a4) (local.get $b4) (local.get $half)))
    (local.set $lo_min (i16x8.min_s (i16x8.min_s (local.get $l1) (local.get $l2)) (i16x8.min_s (local.get $l3) (local.get $l4))))
    (local.set $lo_max (i16x8.max_s (i16x8.max_s (local.get $l1) (local.get $l2)) (i16x8.max_s (local.get $l3) (local.get $l4))))
    (local.set $hi_min (i16x8.min_s (i16x8.min_s (local.get $h1) (local.get $h2)) (i16x8.min_s (local.get $h3) (local.get $h4))))
    (local.set $hi_max (i16x8.max_s (i16x8.max_s (local.get $h1) (local.get $h2)) (i16x8.max_s (local.get $h3) (local.get $h4))))
    ;; dv = loMax - max(loMin, c); lv = min(hiMax, c) - hiMin; both at least 0.
    (v128.store offset=32 (i32.add (local.get $scratch) (i32.shl (local.get $half) (i32.const 5)))
      (i16x8.max_s
        (i16x8.sub (local.get $lo_max) (i16x8.max_s (local.get $lo_min) (local.get $c)))
        (v128.const i16x8 0 0 0 0 0 0 0 0)))
    (v128.store offset=48 (i32.add (local.get $scratch) (i32.shl (local.get $half) (i32.const 5)))
      (i16x8.max_s
        (i16x8.sub (i16x8.min_s (local.get $hi_max) (local.get $c)) (local.get $hi_min))
        (v128.const i16x8 0 0 0 0 0 0 0 0))))

  ;; Lanes 0-7 (`half` 0) or 8-15 of bytes, as i16.
  (func $widen (param $v v128) (param $half i32) (result v128)
    (if (result v128) (local.get $half)
      (then (i16x8.extend_high_i8x16_u (local.get $v)))
      (else (i16x8.extend_low_i8x16_u (local.get $v)))))

  ;; One probe pair's level on the pixel's side for a dark line: the smaller probe less half the
  ;; pair's difference (i16: down to -127), for lanes `half` as $widen.
  (func $near_side (param $a v128) (param $b v128) (param $half i32) (result v128)
    (local $lo v128)
    (local.set $lo (call $widen (i8x16.min_u (local.get $a) (local.get $b)) (local.get $half)))
    (i16x8.sub (local.get $lo)
      (i16x8.shr_u (i16x8.sub (call $widen (i8x16.max_u (local.get $a) (local.get $b)) (local.get $half)) (local.get $lo))
        (i32.const 1))))

  ;; Likewise for a light line: the larger probe plus half the difference (up to 382).
  (func $far_side (param $a v128) (param $b v128) (param $half i32) (result v128)
    (local $hi v128)
    (local.set $hi (call $widen (i8x16.max_u (local.get $a) (local.get $b)) (local.get $half)))
    (i16x8.add (local.get $hi)
      (i16x8.shr_u (i16x8.sub (local.get $hi) (call $widen (i8x16.min_u (local.get $a) (local.get $b)) (local.get $half)))
        (i32.const 1))))

  ;; ---------------------------------------------------------------------------------------------
  ;; luma_rgb: Rec. 601 luma of `n` interleaved RGB pixels at `src` into `n` bytes at `dst`, as
  ;; color.ts's lumaPlane: (77 r + 150 g + 29 b + 128) >> 8 (at most 65408, so u16 sums do not
  ;; wrap). 16 pixels a step; reads up to 47 bytes past the last pixel and writes up to 15 past
  ;; the last luma.
  (func (export "luma_rgb") (param $src i32) (param $n i32) (param $dst i32)
    (local $end i32) (local $v0 v128) (local $v1 v128) (local $v2 v128)
    (local $r v128) (local $g v128) (local $b v128)
    (local.set $end (i32.add (local.get $dst) (local.get $n)))
    (block $done
      (loop $sixteen
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (local.set $v0 (v128.load (local.get $src)))
        (local.set $v1 (v128.load offset=16 (local.get $src)))
        (local.set $v2 (v128.load offset=32 (local.get $src)))
        (local.set $r (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 17 20 23 26 29
          (i8x16.shuffle 0 3 6 9 12 15 18 21 24 27 30 0 0 0 0 0 (local.get $v0) (local.get $v1))
          (local.get $v2)))
        (local.set $g (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 18 21 24 27 30
          (i8x16.shuffle 1 4 7 10 13 16 19 22 25 28 31 0 0 0 0 0 (local.get $v0) (local.get $v1))
          (local.get $v2)))
        (local.set $b (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 16 19 22 25 28 31
          (i8x16.shuffle 2 5 8 11 14 17 20 23 26 29 0 0 0 0 0 0 (local.get $v0) (local.get $v1))
          (local.get $v2)))
        (v128.store (local.get $dst)
          (i8x16.narrow_i16x8_u
            (call $luma8 (i16x8.extend_low_i8x16_u (local.get $r)) (i16x8.extend_low_i8x16_u (local.get $g))
              (i16x8.extend_low_i8x16_u (local.get $b)))
            (call $luma8 (i16x8.extend_high_i8x16_u (local.get $r)) (i16x8.extend_high_i8x16_u (local.get $g))
              (i16x8.extend_high_i8x16_u (local.get $b)))))
        (local.set $src (i32.add (local.get $src) (i32.const 48)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $sixteen))))

  ;; (77 r + 150 g + 29 b + 128) >> 8 of eight pixels (u16 lanes).
  (func $luma8 (param $r v128) (param $g v128) (param $b v128) (result v128)
    (i16x8.shr_u
      (i16x8.add
        (i16x8.add
          (i16x8.mul (local.get $r) (v128.const i16x8 77 77 77 77 77 77 77 77))
          (i16x8.mul (local.get $g) (v128.const i16x8 150 150 150 150 150 150 150 150)))
        (i16x8.add
          (i16x8.mul (local.get $b) (v128.const i16x8 29 29 29 29 29 29 29 29))
          (v128.const i16x8 128 128 128 128 128 128 128 128)))
      (i32.const 8)))

  ;; ---------------------------------------------------------------------------------------------
  ;; pencil_lines: `rows` rows of pencil-lines.ts's line field, as its lineRows: per pixel the Sobel
  ;; magnitude of the near blur (gradient.ts's sobelRow, rounded to f32 as its row buffer holds it)
  ;; and the larger of the DoG (far - near) / (far + 40) and weight * gradient / (near + 40) - 0.04,
  ;; in doubles, stored as f32. All three planes are f32 rows of `pitch` = width + 2 samples with
  ;; pixel x at index x + 1: `near` has rows -1 to `rows` (row -1 and `rows` being the rows above
  ;; and below, and each row's samples 0 and width + 1 its edge pixels repeated), `far` and `out`
  ;; rows 0 to `rows` - 1. Two pixels a step; with an odd width the last step also writes sample
  ;; width + 1 of `out`.
  (func (export "pencil_lines") (param $near i32) (param $far i32) (param $out i32) (param $w i32)
    (param $rows i32) (param $weight f64)
    (local $pitch i32) (local $k i32) (local $x i32) (local $up i32) (local $row i32) (local $down i32)
    (local $f i32) (local $o i32)
    (local $gx v128) (local $gy v128) (local $g v128) (local $n v128) (local $fv v128)
    (local $dog v128) (local $edge v128)
    (local.set $pitch (i32.shl (i32.add (local.get $w) (i32.const 2)) (i32.const 2)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $k) (local.get $rows)))
        (local.set $up (i32.add (local.get $near) (i32.mul (local.get $k) (local.get $pitch))))
        (local.set $row (i32.add (local.get $up) (local.get $pitch)))
        (local.set $down (i32.add (local.get $row) (local.get $pitch)))
        (local.set $f (i32.add (local.get $far) (i32.mul (local.get $k) (local.get $pitch))))
        (local.set $o (i32.add (local.get $out) (i32.mul (local.get $k) (local.get $pitch))))
        (local.set $x (i32.const 0))
        (block $row_done
          (loop $pairs
            (br_if $row_done (i32.ge_u (local.get $x) (local.get $w)))
            ;; gx = up[r] + 2 row[r] + down[r] - up[l] - 2 row[l] - down[l], in sobelRow's order.
            (local.set $gx
              (f64x2.sub
                (f64x2.sub
                  (f64x2.sub
                    (f64x2.add
                      (f64x2.add (call $two (local.get $up) (local.get $x) (i32.const 8))
                        (f64x2.mul (v128.const f64x2 2 2) (call $two (local.get $row) (local.get $x) (i32.const 8))))
                      (call $two (local.get $down) (local.get $x) (i32.const 8)))
                    (call $two (local.get $up) (local.get $x) (i32.const 0)))
                  (f64x2.mul (v128.const f64x2 2 2) (call $two (local.get $row) (local.get $x) (i32.const 0))))
                (call $two (local.get $down) (local.get $x) (i32.const 0))))
            ;; gy = down[l] + 2 down[x] + down[r] - up[l] - 2 up[x] - up[r].
            (local.set $gy
              (f64x2.sub
                (f64x2.sub
                  (f64x2.sub
                    (f64x2.add
                      (f64x2.add (call $two (local.get $down) (local.get $x) (i32.const 0))
                        (f64x2.mul (v128.const f64x2 2 2) (call $two (local.get $down) (local.get $x) (i32.const 4))))
                      (call $two (local.get $down) (local.get $x) (i32.const 8)))
                    (call $two (local.get $up) (local.get $x) (i32.const 0)))
                  (f64x2.mul (v128.const f64x2 2 2) (call $two (local.get $up) (local.get $x) (i32.const 4))))
                (call $two (local.get $up) (local.get $x) (i32.const 8))))
            ;; The magnitude as the f32 row buffer holds it.
            (local.set $g
              (f64x2.promote_low_f32x4
                (f32x4.demote_f64x2_zero
                  (f64x2.mul
                    (f64x2.sqrt
                      (f64x2.add (f64x2.mul (local.get $gx) (local.get $gx)) (f64x2.mul (local.get $gy) (local.get $gy))))
                    (v128.const f64x2 0.125 0.125)))))
            (local.set $n (call $two (local.get $row) (local.get $x) (i32.const 4)))
            (local.set $fv (call $two (local.get $f) (local.get $x) (i32.const 4)))
            (local.set $dog
              (f64x2.div (f64x2.sub (local.get $fv) (local.get $n)) (f64x2.add (local.get $fv) (v128.const f64x2 40 40))))
            (local.set $edge
              (f64x2.sub
                (f64x2.div (f64x2.mul (f64x2.splat (local.get $weight)) (local.get $g))
                  (f64x2.add (local.get $n) (v128.const f64x2 40 40)))
                (v128.const f64x2 0.04 0.04)))
            (v128.store64_lane 0
              (i32.add (i32.add (local.get $o) (i32.shl (local.get $x) (i32.const 2))) (i32.const 4))
              (f32x4.demote_f64x2_zero
                (v128.bitselect (local.get $dog) (local.get $edge) (f64x2.gt (local.get $dog) (local.get $edge)))))
            (local.set $x (i32.add (local.get $x) (i32.const 2)))
            (br $pairs)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $rows))))

  ;; Samples x - 1 + at / 4 and the next of the padded f32 row at `row` (sample x - 1 is at index
  ;; x), as doubles: `at` 0 reads the left neighbours, 4 the pixels, 8 the right neighbours.
  (func $two (param $row i32) (param $x i32) (param $at i32) (result v128)
    (f64x2.promote_low_f32x4
      (v128.load64_zero
        (i32.add (i32.add (local.get $row) (i32.shl (local.get $x) (i32.const 2))) (local.get $at)))))

  ;; ---------------------------------------------------------------------------------------------
  ;; ink_rows: ink-rows.ts's inkRow, a row of RGB bytes blended between two rows of interleaved
  ;; f32 samples (r, g, b, d: 16 bytes a pixel) at $a and $b: v = a + (b - a) t in f32, a pixel
  ;; whose d is below $thr multiplied by the f32 table's entry at $ink for d (index
  ;; (d + $off) $scale in doubles, truncated and clamped to 0 .. $last), and stored as a
  ;; Uint8ClampedArray stores a number (clamped to 0-255, rounded half to even). Pixels 0 to
  ;; $w - 1 at $out, 3 bytes apart, each written as 4: one byte after the row is overwritten.
  (func (export "ink_rows") (param $a i32) (param $b i32) (param $out i32) (param $w i32)
    (param $t f32) (param $thr f64) (param $ink i32) (param $off f64) (param $scale f64) (param $last f64)
    (local $x i32) (local $va v128) (local $tv v128) (local $v v128) (local $d f64) (local $q i32)
    (local.set $tv (f32x4.splat (local.get $t)))
    (block $done
      (loop $pixels
        (br_if $done (i32.ge_u (local.get $x) (local.get $w)))
        (local.set $q (i32.shl (local.get $x) (i32.const 4)))
        (local.set $va (v128.load (i32.add (local.get $a) (local.get $q))))
        (local.set $v
          (f32x4.add (local.get $va)
            (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $b) (local.get $q))) (local.get $va))
              (local.get $tv))))
        (local.set $d (f64.promote_f32 (f32x4.extract_lane 3 (local.get $v))))
        (if (f64.lt (local.get $d) (local.get $thr))
          (then
            (local.set $v
              (f32x4.mul (local.get $v)
                (v128.load32_splat
                  (i32.add (local.get $ink)
                    (i32.shl
                      (i32.trunc_sat_f64_s
                        (f64.min (local.get $last)
                          (f64.max (f64.const 0)
                            (f64.mul (f64.add (local.get $d) (local.get $off)) (local.get $scale)))))
                      (i32.const 2))))))))
        ;; Rounded half to even, then saturated to 0-255 (NaN to 0) by the narrowing.
        (local.set $v (i32x4.trunc_sat_f32x4_s (f32x4.nearest (local.get $v))))
        (local.set $v (i16x8.narrow_i32x4_u (local.get $v) (local.get $v)))
        (v128.store32_lane 0 (i32.add (local.get $out) (i32.mul (local.get $x) (i32.const 3)))
          (i8x16.narrow_i16x8_u (local.get $v) (local.get $v)))
        (local.set $x (i32.add (local.get $x) (i32.const 1)))
        (br $pixels))))

  ;; ---------------------------------------------------------------------------------------------
  ;; widen_rows: ink-rows.ts's widen, a low row of four planes (f32 rows of $ww samples at $planes,
  ;; $planes + $pitch, + 2 $pitch, + 3 $pitch) interleaved into $src (16 bytes a pixel) and
  ;; interpolated across to $w pixels at $dst: pixel x is low pixel left[x] + (right[x] - left[x])
  ;; fx[x], in f32 (i32 indices at $left and $right, f32 weights at $fx). Reads up to 12 bytes past
  ;; each plane row and writes up to 48 bytes past $src's last pixel.
  (func (export "widen_rows") (param $planes i32) (param $pitch i32) (param $ww i32) (param $src i32)
    (param $left i32) (param $right i32) (param $fx i32) (param $dst i32) (param $w i32)
    (local $k i32) (local $p i32) (local $o i32) (local $x i32) (local $a v128)
    (local $r v128) (local $g v128) (local $b v128) (local $d v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (block $interleaved
      (loop $fours
        (br_if $interleaved (i32.ge_u (local.get $k) (local.get $ww)))
        (local.set $p (i32.add (local.get $planes) (i32.shl (local.get $k) (i32.const 2))))
        (local.set $r (v128.load (local.get $p)))
        (local.set $g (v128.load (i32.add (local.get $p) (local.get $pitch))))
        (local.set $b (v128.load (i32.add (local.get $p) (i32.shl (local.get $pitch) (i32.const 1)))))
        (local.set $d (v128.load (i32.add (local.get $p) (i32.mul (local.get $pitch) (i32.const 3)))))
        ;; r0 g0 r1 g1, r2 g2 r3 g3, b0 d0 b1 d1, b2 d2 b3 d3
        (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r) (local.get $g)))
        (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r) (local.get $g)))
        (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $b) (local.get $d)))
        (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $b) (local.get $d)))
        (local.set $o (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 4))))
        (v128.store (local.get $o)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
        (v128.store offset=16 (local.get $o)
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
        (v128.store offset=32 (local.get $o)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
        (v128.store offset=48 (local.get $o)
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $fours)))
    (block $done
      (loop $pixels
        (br_if $done (i32.ge_u (local.get $x) (local.get $w)))
        (local.set $p (i32.shl (local.get $x) (i32.const 2)))
        (local.set $a
          (v128.load (i32.add (local.get $src) (i32.shl (i32.load (i32.add (local.get $left) (local.get $p))) (i32.const 4)))))
        (v128.store (i32.add (local.get $dst) (i32.shl (local.get $x) (i32.const 4)))
          (f32x4.add (local.get $a)
            (f32x4.mul
              (f32x4.sub
                (v128.load
                  (i32.add (local.get $src) (i32.shl (i32.load (i32.add (local.get $right) (local.get $p))) (i32.const 4))))
                (local.get $a))
              (v128.load32_splat (i32.add (local.get $fx) (local.get $p))))))
        (local.set $x (i32.add (local.get $x) (i32.const 1)))
        (br $pixels))))

  ;; ---------------------------------------------------------------------------------------------
  ;; kuwahara_row: kuwahara.ts's sectorSum, and the mean, for pixels $x0 to $x1 - 1 of a row
  ;; whose eight sectors all lie inside the image: in the ring of f32 sector terms (W, W r, W g, W b: 16 bytes a pixel)
  ;; at $ring, pixel x's terms at float index $base + 4 x, sector k's at that plus delta[cell + k]
  ;; (i32 at $delta; cell = the i32 at $cells + 4 x, already times 8). The weighted sum
  ;; pAlong (s0 + s1) + (s2 + s3) + pDiag (s4 + s5 + s6 + s7) in f32, then each colour
  ;; sum / W + 0.5 truncated, as RGB bytes at $out + 3 (x - $x0), each written as 4 (one byte
  ;; after the last is overwritten).
  (func (export "kuwahara_row") (param $ring i32) (param $base i32) (param $delta i32) (param $cells i32)
    (param $x0 i32) (param $x1 i32) (param $along f32) (param $diag f32) (param $out i32)
    (local $x i32) (local $p i32) (local $d i32) (local $v v128) (local $pa v128) (local $pd v128)
    (local.set $pa (f32x4.splat (local.get $along)))
    (local.set $pd (f32x4.splat (local.get $diag)))
    (local.set $x (local.get $x0))
    (block $done
      (loop $pixels
        (br_if $done (i32.ge_u (local.get $x) (local.get $x1)))
        (local.set $p
          (i32.add (local.get $ring)
            (i32.shl (i32.add (local.get $base) (i32.shl (local.get $x) (i32.const 2))) (i32.const 2))))
        (local.set $d
          (i32.add (local.get $delta)
            (i32.shl (i32.load (i32.add (local.get $cells) (i32.shl (local.get $x) (i32.const 2)))) (i32.const 2))))
        (local.set $v
          (f32x4.add
            (f32x4.add
              (f32x4.mul (local.get $pa)
                (f32x4.add (call $sector (local.get $p) (local.get $d) (i32.const 0))
                  (call $sector (local.get $p) (local.get $d) (i32.const 4))))
              (f32x4.add (call $sector (local.get $p) (local.get $d) (i32.const 8))
                (call $sector (local.get $p) (local.get $d) (i32.const 12))))
            (f32x4.mul (local.get $pd)
              (f32x4.add
                (f32x4.add
                  (f32x4.add (call $sector (local.get $p) (local.get $d) (i32.const 16))
                    (call $sector (local.get $p) (local.get $d) (i32.const 20)))
                  (call $sector (local.get $p) (local.get $d) (i32.const 24)))
                (call $sector (local.get $p) (local.get $d) (i32.const 28))))))
        (local.set $v
          (i32x4.trunc_sat_f32x4_u
            (f32x4.add
              (f32x4.mul (local.get $v)
                (f32x4.splat (f32.div (f32.const 1) (f32x4.extract_lane 0 (local.get $v)))))
              (v128.const f32x4 0.5 0.5 0.5 0.5))))
        (local.set $v (i16x8.narrow_i32x4_u (local.get $v) (local.get $v)))
        (v128.store32_lane 0
          (i32.add (local.get $out) (i32.mul (i32.sub (local.get $x) (local.get $x0)) (i32.const 3)))
          (i8x16.shuffle 1 2 3 0 0 0 0 0 0 0 0 0 0 0 0 0
            (i8x16.narrow_i16x8_u (local.get $v) (local.get $v)) (local.get $v)))
        (local.set $x (i32.add (local.get $x) (i32.const 1)))
        (br $pixels))))

  ;; The four terms of the sector whose delta is at $d + $k (bytes) from the pixel's at $p.
  (func $sector (param $p i32) (param $d i32) (param $k i32) (result v128)
    (v128.load (i32.add (local.get $p) (i32.shl (i32.load (i32.add (local.get $d) (local.get $k))) (i32.const 2)))))
)
