"""The expression-language reference printed by ``jacli language`` (stdlib only, plain text).

Everything but the list of functions: ``jacli.language.functions.reference_page()``
puts the function table's text in place of :data:`FUNCTION_LIST` (the table
imports no SymPy, so the page prints quickly)."""

FUNCTION_LIST = "  <the rows of jacli.language.functions>\n"
"""Where the page lists the functions (one line of :data:`PAGE`)."""

PAGE = """\
The jacli expression language
=============================

An expression is data, never code: jacli parses it with a whitelist and never
hands it to eval, exec or sympify. Anything outside this page is an error that
names the column (exit status 2).

Outputs
  2*x0 + x1**2                    one output: a scalar function
  2*x0+x1**2, x0**2+2*x1**3       components, separated by top-level commas
  [x*y, x+y]                      optional brackets around the components
  [[x, y], [x*y, 1]]              nested brackets: an array-valued function

Operators (loosest binding first)
  a + b   a - b                   sum, difference
  a * b   a / b   a @ b           product, quotient, matrix product
  -a   +a                         unary minus and plus
  a ** b   a ^ b                  power: ^ is exactly **, never XOR;
                                  right-associative (2^3^2 = 2^9), and it
                                  binds tighter than unary minus (-x^2 = -(x^2))
  ( )                             grouping
  < <= > >= == !=  and or not     only inside the condition of where(...);
                                  chains such as 1 < x <= 5 work
  Lookalikes such as × · − ÷ ² π √ ≤ ≥ are refused with the ASCII spelling
  to use instead. An expression that starts with '-' goes after '--':
  jacli gradient --at 1 -- "-x^2"

Numbers and constants
  2   0.5   .5   1e-3   6.02e23   pi   e

Functions
  <the rows of jacli.language.functions>
  Functions act elementwise on arrays; elementwise operators broadcast.

Arrays
  [0, 1, 2, 3]   [[1, 2], [3, 4]] array literals
  a[0]   A[1, 2]   a[1:3]         indexing and slicing, 0-based
  A.T   (x*x).sum()   b.norm()    transpose; the method form x.f(...) is
                                  f(x, ...) for every function above

Bindings
  c = a + b; d = b + 1; c*d       statements separated by ';' or newlines; the
                                  last one is the output. The symbolic result
                                  keeps the names, so it does not swell.
  Empty statements (a trailing ';' or newline) are ignored.

Control flow (Python's, run at the point as PyTorch runs it eagerly)
  if c: ... elif c: ... else:     conditions are scalars, decided at the point
                                  (exactly where the point is exact)
  while c: ...                    loops: at most 10,000 iterations in all
  for i in range(k): ...          (JACLI_MAX_ITERATIONS); range(a, b[, step]);
                                  i is an integer constant in the body
  break   continue   b *= 2       as in Python; a name may be bound again
  return e                        the output (or a bare last expression)
  def f(a, b): ... return e       one whole def: its parameters are the
                                  variables, in that order
  The derivative is the derivative of the path that ran; the output names it:
  "path: while ran 9 times; if took else" (JSON key "path").

Variables
  Every name that is not a function or constant above is a variable, including
  E, I, N, S, Q, oo, gamma and beta. Variables are ordered naturally: letter
  runs by code point, digit runs as numbers, so A < a < x < x0 < x2 < x10 < y.
  --wrt x,y picks the variables to differentiate, in that order; the other
  names are parameters and need values in --at.

Points and vectors (options, not expressions)
  --at 1,2                        values in variable order (the --wrt order)
  --at "x=1, y=pi/4"              by name; values are constant expressions
  --at "a=[1,2], A=[[1,2],[3,4]]" arrays; derivatives flatten them row-major
  --at ... --at ...               several points
  --v 1,2   --v ones              v for vjp (one entry per output) and jvp
                                  (one entry per input)

Reading from stdin
  EXPR "-" reads the expression from stdin (trailing newlines are dropped):
  echo "c = x*y; c + x" | jacli gradient - --at 1,2

Examples
  jacli jacobian "2*x0+x1**2, x0**2+2*x1**3" --at 1,2
  jacli gradient "2*dot(x,x)" --at "x=[0,1,2,3]"
  jacli gradient "sum(detach(x*x)*x)" --at "x=[0,1,2,3]"
  jacli hessian "c = a+b; d = b+1; c*d" --at "a=2, b=1"
  jacli vjp "A@B" --at "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]" --v ones
  jacli gradient "x.T@A@x + logsumexp(x)" --at "x=[1,2], A=[[1,2],[3,4]]" --wrt x
"""
