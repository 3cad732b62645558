# A minimal test runner for `nix-instantiate --eval --strict`: a suite evaluates to true, or
# throws naming every failing case with what was expected and what came out.
{
  run =
    suite: cases:
    let
      failed = builtins.filter (c: c.actual != c.expected) cases;
      show = c: "  ${c.name}:\n    expected ${builtins.toJSON c.expected}\n    got      ${builtins.toJSON c.actual}";
    in
    if builtins.length cases == 0 then
      throw "${suite}: no test cases"
    else if failed == [ ] then
      true
    else
      throw "${suite}: ${toString (builtins.length failed)} of ${toString (builtins.length cases)} cases failed:\n${builtins.concatStringsSep "\n" (map show failed)}";

  # Whether evaluating `expr` completely throws (or fails an assertion).
  throws = expr: !(builtins.tryEval (builtins.deepSeq expr expr)).success;

  # Whether some message of `messages` contains `needle`.
  mentions =
    needle: messages: builtins.any (m: builtins.match ".*${needle}.*" m != null) messages;
}
