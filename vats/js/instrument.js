// instrument.js: the metering instrumenter (docs/METERING.md).
//
// Rewrites JavaScript source (a module or a script) so that running it counts computrons and call
// depth deterministically. It runs in a tool global of its own, parses with acorn (exact source
// offsets, parentheses kept as nodes) and only inserts text: the program's own code is kept byte
// for byte between the insertions.
//
// What it inserts (the meter names start with `$__`, which the program may not use):
//   - a tick `if(--$__m.c<0)$__r();` at the start of every loop body, generator body and class
//     static block, and in every function prologue;
//   - a depth prologue in every non-generator function:
//       const $__d=++$__m.d;if($__d>$__m.L)$__deep();TICK try{ BODY }finally{$__m.d=$__d-1}
//     (an arrow with an expression body gets a block body returning the expression);
//   - parameter defaults and class field initialisers that are more than a literal or a name are
//     moved into an arrow called on the spot, so a recursion through them meets a prologue;
//   - in async functions, `await X` becomes `await $__s($__d,(X))`: the depth is given back
//     before the frame suspends;
//   - every spread of values `...X` becomes `...$__sp((X))`, which charges X's length first.
// From meter version 2, operators whose work grows with their operands go through charged
// helpers of the prelude ($__add, $__mul, $__lt, $__seq, ...), with the case of two numbers
// kept inline at the site:
//     A * B   ->  ($__a0=(A),$__b0=(B),typeof $__a0==='number'&&typeof $__b0==='number'
//                  ?$__a0 * $__b0:$__mul($__a0,$__b0))
//   the arithmetic operators + - * / % ** << >> and their compound assignments (the target's
//   object and key are evaluated once: `o[k] += x` reads and writes through temporaries), and
//   the comparisons < <= > >= == != === !== unless a side is a literal or a unary/update
//   expression (then its cost is bounded by the literal). The temporaries ($__a<n>, $__b<n>,
//   $__o<n>, $__k<n>, n the nesting of sites) are `let`s of the enclosing function (after the
//   prologue) or module; where there is none (parameter defaults, class fields and static
//   blocks, script top level) a site calls the helper directly: `$__mul(A,B)`. Template
//   literals become `$__tc(`..${$__ts((X))}..`)`: the substitution's conversion is charged, the
//   result capped.
// Generators get a tick but no depth prologue: a resumed generator frame is a real stack frame,
// so the trusted prelude counts depth in %GeneratorPrototype%.next/throw/return (and the async
// ones) instead.
//
// The result is parsed again and checked; anything unexpected throws (fail closed). Every change
// to what this file writes changes tick counts, which are consensus: it needs a new meter version,
// and what it writes for an older version must stay exactly as it was (gate changes on
// `version`, the third argument of instrument()).
//
// Needs `acorn` (the npm package, pinned and embedded) on the global object.

'use strict';

(() => {
  const { acorn } = globalThis;
  const TICK = 'if(--$__m.c<0)$__r();';
  const PROLOGUE = `const $__d=++$__m.d;if($__d>$__m.L)$__deep();${TICK}try{`;
  const EPILOGUE = '}finally{$__m.d=$__d-1}';
  const ECMA_VERSION = 2022;

  const FUNCTION_TYPES = new Set([
    'FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression',
  ]);
  const LOOP_TYPES = new Set([
    'WhileStatement', 'DoWhileStatement', 'ForStatement', 'ForInStatement', 'ForOfStatement',
  ]);
  // ESTree node types of ES2022 (acorn, with preserveParens). Anything else (a newer syntax) is
  // refused rather than passed through unmetered.
  const KNOWN_TYPES = new Set([
    'Program', 'EmptyStatement', 'BlockStatement', 'ExpressionStatement', 'IfStatement',
    'LabeledStatement', 'BreakStatement', 'ContinueStatement', 'WithStatement', 'SwitchStatement',
    'SwitchCase', 'ReturnStatement', 'ThrowStatement', 'TryStatement', 'CatchClause',
    'WhileStatement', 'DoWhileStatement', 'ForStatement', 'ForInStatement', 'ForOfStatement',
    'DebuggerStatement', 'FunctionDeclaration', 'VariableDeclaration', 'VariableDeclarator',
    'ClassDeclaration', 'ClassExpression', 'ClassBody', 'MethodDefinition', 'PropertyDefinition',
    'StaticBlock', 'PrivateIdentifier', 'ImportDeclaration', 'ImportSpecifier',
    'ImportDefaultSpecifier', 'ImportNamespaceSpecifier', 'ExportNamedDeclaration',
    'ExportDefaultDeclaration', 'ExportAllDeclaration', 'ExportSpecifier', 'Identifier',
    'Literal', 'TemplateLiteral', 'TemplateElement', 'TaggedTemplateExpression',
    'ThisExpression', 'Super', 'ArrayExpression', 'ObjectExpression', 'Property',
    'FunctionExpression', 'ArrowFunctionExpression', 'SequenceExpression', 'UnaryExpression',
    'BinaryExpression', 'AssignmentExpression', 'UpdateExpression', 'LogicalExpression',
    'ConditionalExpression', 'NewExpression', 'CallExpression', 'MemberExpression',
    'ChainExpression', 'YieldExpression', 'AwaitExpression', 'ImportExpression', 'MetaProperty',
    'SpreadElement', 'RestElement', 'ObjectPattern', 'ArrayPattern', 'AssignmentPattern',
    'ParenthesizedExpression',
  ]);

  class InstrumentError extends Error {}

  const fail = message => {
    throw new InstrumentError(`instrument: ${message}`);
  };

  const parse = (source, module) =>
    acorn.parse(source, {
      ecmaVersion: ECMA_VERSION,
      sourceType: module ? 'module' : 'script',
      preserveParens: true,
      allowHashBang: false,
      allowReserved: false,
    });

  const isTrivialExpression = node =>
    node.type === 'Literal' || node.type === 'Identifier' || node.type === 'ThisExpression';

  // Calls visit(node, parent, fn, inParams, owner) for every node, where fn is the nearest
  // enclosing function (or null), inParams says whether the node is inside that function's
  // parameters, and owner is the function (or module) whose own frame evaluates the node: null
  // in parameters, class field initialisers and static blocks (and at a script's top level).
  const walk = (node, visit, parent = null, fn = null, inParams = false, owner = null) => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const child of node) walk(child, visit, parent, fn, inParams, owner);
      return;
    }
    if (typeof node.type !== 'string') return;
    visit(node, parent, fn, inParams, owner);
    if (FUNCTION_TYPES.has(node.type)) {
      for (const p of node.params) walk(p, visit, node, node, true, null);
      walk(node.id, visit, node, node, false, node);
      walk(node.body, visit, node, node, false, node);
      return;
    }
    if (node.type === 'PropertyDefinition') {
      walk(node.key, visit, node, fn, inParams, owner);
      walk(node.value, visit, node, fn, inParams, null);
      return;
    }
    const inner = node.type === 'StaticBlock' ? null : owner;
    for (const key of Object.keys(node)) {
      if (key === 'type' || key === 'start' || key === 'end') continue;
      walk(node[key], visit, node, fn, inParams, inner);
    }
  };

  // Meter version 2: operators charged by their operands' size.
  const ARITHMETIC = new Map([
    ['+', '$__add'], ['-', '$__sub'], ['*', '$__mul'], ['/', '$__div'], ['%', '$__mod'],
    ['**', '$__pow'], ['<<', '$__shl'], ['>>', '$__shr'],
  ]);
  const COMPARISON = new Map([
    ['<', '$__lt'], ['<=', '$__le'], ['>', '$__gt'], ['>=', '$__ge'], ['==', '$__eq'],
    ['!=', '$__ne'], ['===', '$__seq'], ['!==', '$__sne'],
  ]);
  const COMPOUND = new Map([...ARITHMETIC].map(([op, helper]) => [`${op}=`, helper]));
  const ANONYMOUS_DEFINITIONS = new Set([
    'FunctionExpression', 'ArrowFunctionExpression', 'ClassExpression',
  ]);
  const TEMP = /^\$__[ab][0-9]+$/;
  // A comparison operand that bounds the comparison's cost without the meter. For === and !==
  // (no conversions): a literal, a unary or update expression, a template without
  // substitutions. For the others, which may convert the other side (a long string to a number
  // or a BigInt): only a string, null or regular expression literal, a template without
  // substitutions, `typeof x` or `void x`.
  const boundedOperand = (node, op) => {
    if (node.type === 'TemplateLiteral') return node.expressions.length === 0;
    if (op === '===' || op === '!==') {
      return node.type === 'Literal' || node.type === 'UnaryExpression' ||
        node.type === 'UpdateExpression';
    }
    if (node.type === 'Literal') {
      return typeof node.value === 'string' || node.value === null || node.regex !== undefined;
    }
    return node.type === 'UnaryExpression' && (node.operator === 'typeof' || node.operator === 'void');
  };
  const isNumberLiteral = node => node.type === 'Literal' && typeof node.value === 'number';
  // Two literals, neither a BigInt (`2n ** 99999999n` is not bounded by its text).
  const boundedLiterals = (l, r) =>
    l.type === 'Literal' && r.type === 'Literal' && typeof l.bigint !== 'string' &&
    typeof r.bigint !== 'string';
  // The inline test that lets two operand texts x and y skip the helper.
  const fastTest = (op, x, y) => {
    const numbers = [x, y].filter(t => TEMP.test(t)).map(t => `typeof ${t}==='number'`);
    if (op === '===' || op === '!==') return `typeof ${x}!=='string'||typeof ${y}!=='string'`;
    if (op === '==' || op === '!=') return `typeof ${x}===typeof ${y}&&typeof ${x}!=='string'`;
    return numbers.join('&&');
  };
  // Meter version 3: a property key whose conversion to a string is cheap without the meter (a
  // string or number literal, a template without substitutions, or a unary operator whose
  // result is a boolean, a string or undefined).
  const boundedKey = key => {
    const k = unparen(key);
    if (k.type === 'Literal') return typeof k.value === 'string' || typeof k.value === 'number';
    if (k.type === 'TemplateLiteral') return k.expressions.length === 0;
    return k.type === 'UnaryExpression' &&
      (k.operator === 'typeof' || k.operator === '!' || k.operator === 'void' ||
       k.operator === 'delete');
  };
  const keyTest = k => `typeof ${k}==='string'&&${k}.length<=256||typeof ${k}==='number'`;
  const TEMP_KEY = /^\$__k[0-9]+$/;
  const fastPath = (op, helper, x, y) =>
    `${fastTest(op, x, y)}?${x} ${op} ${y}:${helper}(${x},${y})`;

  class Rewriter {
    constructor(source) {
      this.source = source;
      this.edits = []; // {pos, text, rank}
    }

    // Text inserted around the range [from, to) of a node at nesting `depth`. At one offset the
    // insertions go: closings of ranges that began earlier (inner first), then openings (outer
    // first), then closings of ranges that began at that offset (empty ranges, inner first).
    around(from, openText, to, closeText, depth) {
      this.edits.push({ pos: from, text: openText, rank: 1e7 + depth });
      this.edits.push({ pos: to, text: closeText, rank: (to > from ? 0 : 2e7) + 1e6 - depth });
    }

    insert(pos, text, depth) {
      this.edits.push({ pos, text, rank: 1e7 + depth });
    }

    // Replaces the text [from, to), which holds no other edit: as an opening of a node at
    // `depth` when it starts at that node's start, else (depth null) after the closings of the
    // nodes that end at `from`.
    replace(from, to, text, depth) {
      this.edits.push({ pos: from, end: to, text, rank: depth === null ? 1.5e6 : 1e7 + depth });
    }

    // After the `{` of a block body and its directive prologue.
    blockBodyStart(block) {
      if (this.source[block.start] !== '{') fail(`a ${block.type} that does not start with {`);
      let pos = block.start + 1;
      for (const stmt of block.body) {
        if (stmt.type !== 'ExpressionStatement' || typeof stmt.directive !== 'string') break;
        pos = stmt.end;
      }
      return pos;
    }

    blockBodyEnd(block) {
      if (this.source[block.end - 1] !== '}') fail(`a ${block.type} that does not end with }`);
      return block.end - 1;
    }

    // `(()=>{PRO try{return (E)}finally{EPI}})()`
    wrapExpression(expr, depth) {
      this.around(expr.start, `(()=>{${PROLOGUE}return (`, expr.end, `)${EPILOGUE}})()`, depth);
    }

    // The temporaries of `owner` (a function or a module) go at tempsAt.get(owner).
    fn(node, depth) {
      if (node.type === 'ArrowFunctionExpression' && node.expression) {
        this.around(node.body.start, `{${PROLOGUE}`, node.body.end, `)${EPILOGUE}}`, depth);
        this.tempsAt.set(node, { pos: node.body.start, depth: depth + 0.3 });
        this.insert(node.body.start, 'return (', depth + 0.6);
      } else if (node.body.type === 'BlockStatement') {
        const from = this.blockBodyStart(node.body);
        if (node.generator) {
          this.insert(from, `;${TICK}`, depth);
        } else {
          this.around(from, `;${PROLOGUE}`, this.blockBodyEnd(node.body), EPILOGUE, depth);
        }
        this.tempsAt.set(node, { pos: from, depth: depth + 0.5 });
      } else {
        fail(`a ${node.type} whose body is a ${node.body.type}`);
      }
    }

    // Meter version 2 sites. `level` numbers the site's temporaries (its nesting among the
    // sites of its owner); owner null: call the helper directly.
    useLevel(owner, level) {
      const n = this.levels.get(owner) || 0;
      if (level + 1 > n) this.levels.set(owner, level + 1);
    }

    // A site's text begins with `(` at pos: an expression statement starting there needs a
    // guard against joining the previous line (ASI).
    parenAt(pos) {
      this.parenStarts.add(pos);
    }

    // (The site's own edits go at depth + 0.5: inside those that other rules make around the
    // same node, e.g. the arrow around a class field's value or `$__s(` around an await's
    // argument.)
    binary(node, nodeDepth, owner, level) {
      const depth = nodeDepth + 0.5;
      const op = node.operator;
      const helper = ARITHMETIC.get(op) || COMPARISON.get(op);
      const left = node.left;
      const right = node.right;
      const l = unparen(left);
      const r = unparen(right);
      if (boundedLiterals(l, r)) return false;
      if (COMPARISON.has(op) && (boundedOperand(l, op) || boundedOperand(r, op))) return false;
      const src = this.source;
      if (owner === null || (l.type === 'Literal' && !isNumberLiteral(l)) ||
          (r.type === 'Literal' && !isNumberLiteral(r))) {
        this.around(node.start, `${helper}(`, node.end, ')', depth);
        this.replace(left.end, right.start, ',', null);
        return true;
      }
      this.useLevel(owner, level);
      const a = `$__a${level}`;
      const b = `$__b${level}`;
      const bind = (t, operand) =>
        ANONYMOUS_DEFINITIONS.has(unparen(operand).type) ? [`${t}=(0,`, '))'] : [`${t}=(`, ')'];
      this.parenAt(node.start);
      if (isNumberLiteral(l)) {
        const x = src.slice(left.start, left.end);
        const [open, close] = bind(b, right);
        this.replace(node.start, right.start, `(${open}`, depth);
        this.around(right.start, '', node.end, `${close},${fastPath(op, helper, x, b)})`, depth);
      } else if (isNumberLiteral(r)) {
        const y = src.slice(right.start, right.end);
        const [open, close] = bind(a, left);
        this.insert(node.start, `(${open}`, depth);
        this.replace(left.end, node.end, `${close},${fastPath(op, helper, a, y)})`, null);
      } else {
        const [openA, closeA] = bind(a, left);
        const [openB, closeB] = bind(b, right);
        this.around(node.start, `(${openA}`, node.end, `${closeB},${fastPath(op, helper, a, b)})`,
                    depth);
        this.replace(left.end, right.start, `${closeA},${openB}`, null);
      }
      return true;
    }

    // T op= E: the reference T is evaluated once, its value read once and written once.
    compound(node, nodeDepth, owner, level) {
      const depth = nodeDepth + 0.5;
      const op = node.operator.slice(0, -1);
      const helper = COMPOUND.get(node.operator);
      const target = unparen(node.left);
      const value = node.right;
      const src = this.source;
      const computed = target.type === 'MemberExpression' && target.computed;
      this.compoundTargets.add(target);
      const isSuper = target.type === 'MemberExpression' && target.object.type === 'Super';
      if (target.type !== 'Identifier' && target.type !== 'MemberExpression') {
        fail(`a compound assignment to a ${target.type}`);
      }
      if (owner === null) {
        if (target.type === 'Identifier' || (isSuper && !computed)) {
          // x = $__add(x, (E)): x (or super.p) is read once, E evaluated, x written once.
          const t = target.type === 'Identifier' ? target.name
            : `super.${src.slice(target.property.start, target.property.end)}`;
          this.replace(node.start, value.start, `(${t}=${helper}(${t},(`, depth);
          this.around(value.start, '', node.end, ')))', depth);
          this.parenAt(node.start);
          return true;
        }
        // A member elsewhere: in an arrow of its own, whose temporaries it uses.
        this.around(node.start, `(()=>{${PROLOGUE}let $__o0,$__k0,$__a0,$__b0;return (`,
                    node.end, `)${EPILOGUE}})()`, depth - 0.25);
        this.parenAt(node.start);
        owner = node;
        level = 0;
      } else {
        this.useLevel(owner, level);
        this.parenAt(node.start);
      }
      const a = `$__a${level}`;
      const b = `$__b${level}`;
      const o = `$__o${level}`;
      const k = `$__k${level}`;
      const literal = isNumberLiteral(unparen(value));
      const y = literal ? src.slice(value.start, value.end) : b;
      const property = target.property ? src.slice(target.property.start, target.property.end) : '';
      let ref;
      if (target.type === 'Identifier') ref = target.name;
      else if (isSuper) ref = computed ? `super[${k}]` : `super.${property}`;
      else ref = computed ? `${o}[${k}]` : `${o}.${property}`;
      const tail = `${ref}=${fastPath(op, helper, a, y)})`;
      // The text from the end of the target's last part to the value: reads the old value and
      // binds the new operand; with a literal value it runs to the end and closes the site.
      const bindValue = ANONYMOUS_DEFINITIONS.has(unparen(value).type) ? `${b}=(0,(` : `${b}=((`;
      const rest = `${a}=${ref},${literal ? tail : bindValue}`;
      const restEnd = literal ? node.end : value.start;
      if (target.type === 'Identifier' || (isSuper && !computed)) {
        this.replace(node.start, restEnd, `(${rest}`, depth);
      } else if (isSuper) {
        this.replace(node.start, target.property.start, `(${k}=$__pk((`, depth);
        this.replace(target.property.end, restEnd, `)),${rest}`, null);
      } else {
        const obj = target.object;
        this.replace(node.start, obj.start, `(${o}=(`, depth);
        if (computed) {
          this.replace(obj.end, target.property.start, `),${k}=$__pk((`, null);
          this.replace(target.property.end, restEnd, `)),${rest}`, null);
        } else {
          this.replace(obj.end, restEnd, `),${rest}`, null);
        }
      }
      if (!literal) this.around(value.start, '', node.end, `)),${tail}`, depth);
      return true;
    }

    // Meter version 3: property keys. The engine converts a key to a string natively (a BigInt
    // key in decimal, quadratic in its size) and hashes a string key into its atom table (linear
    // in its length), so every key that is not a bounded literal goes through $__pk, which
    // charges both and converts an object key once, as the engine would. A member access keeps
    // numbers and strings of up to 256 units inline:
    //   o[K]  ->  o[($__k0=(K),typeof $__k0==='string'&&$__k0.length<=256||
    //                typeof $__k0==='number'?$__k0:$__pk($__k0))]
    // `K in o`, computed keys of object literals, patterns and classes call $__pk directly.
    keys(node, nodeDepth, owner, level) {
      const depth = nodeDepth + 0.5;
      if (node.type === 'MemberExpression' && node.computed && !this.compoundTargets.has(node) &&
          !boundedKey(node.property)) {
        const p = node.property;
        if (owner === null) {
          this.around(p.start, '$__pk((', p.end, '))', depth);
          return false;
        }
        this.useLevel(owner, level);
        const k = `$__k${level}`;
        this.around(p.start, `(${k}=(`, p.end, `),${keyTest(k)}?${k}:$__pk(${k}))`, depth);
        return true;
      }
      if (node.type === 'BinaryExpression' && node.operator === 'in' &&
          node.left.type !== 'PrivateIdentifier' && !boundedKey(node.left)) {
        this.around(node.left.start, '$__pk((', node.left.end, '))', depth);
      } else if ((node.type === 'Property' || node.type === 'MethodDefinition' ||
                  node.type === 'PropertyDefinition') && node.computed && !boundedKey(node.key)) {
        this.around(node.key.start, '$__pk((', node.key.end, '))', depth);
      }
      return false;
    }

    loopBody(body, depth) {
      if (body.type === 'BlockStatement') {
        this.insert(body.start + 1, TICK, depth);
      } else {
        this.around(body.start, `{${TICK}`, body.end, '}', depth);
      }
    }

    rewrite(ast, version, module) {
      const nodeDepth = new Map();
      // Meter version 2: the temporaries per owner, and the site level of each node's children.
      this.tempsAt = new Map();
      this.levels = new Map();
      this.parenStarts = new Set();
      this.compoundTargets = new Set();
      const childLevel = new Map();
      const statements = [];
      if (module) this.tempsAt.set(ast, { pos: 0, depth: 0.5 });
      const top = module && version >= 2 ? ast : null;
      walk(ast, (node, parent, fn, inParams, owner) => {
        const depth = parent ? nodeDepth.get(parent) + 1 : 0;
        nodeDepth.set(node, depth);
        if (version >= 2) {
          const inherited = parent ? childLevel.get(parent) : 0;
          const sameOwner = parent && !FUNCTION_TYPES.has(parent.type);
          const level = sameOwner ? inherited : 0;
          let site = false;
          if (node.type === 'BinaryExpression' &&
              (ARITHMETIC.has(node.operator) || COMPARISON.has(node.operator))) {
            site = this.binary(node, depth, owner, level);
          } else if (node.type === 'AssignmentExpression' && COMPOUND.has(node.operator)) {
            site = this.compound(node, depth, owner, level);
          } else if (node.type === 'TemplateLiteral' && node.expressions.length > 0 &&
                     !(parent && parent.type === 'TaggedTemplateExpression')) {
            this.around(node.start, '$__tc(', node.end, ')', depth);
            for (const e of node.expressions) this.around(e.start, '$__ts((', e.end, '))', depth + 1);
          } else if (node.type === 'ExpressionStatement') {
            statements.push(node);
          }
          if (version >= 3) site = this.keys(node, depth, owner, level) || site;
          childLevel.set(node, site ? level + 1 : level);
        }
        if (!KNOWN_TYPES.has(node.type)) fail(`unsupported syntax ${node.type}`);
        if (node.type === 'Identifier' && node.name.startsWith('$__')) {
          fail(`the name ${node.name} is reserved for the meter`);
        }
        if (FUNCTION_TYPES.has(node.type)) {
          this.fn(node, depth);
        } else if (LOOP_TYPES.has(node.type)) {
          this.loopBody(node.body, depth + 1);
        } else if (node.type === 'StaticBlock') {
          let pos = node.start + 'static'.length;
          while (pos < node.end && this.source[pos] !== '{') pos += 1;
          if (this.source[pos] !== '{') fail('a static block without {');
          this.insert(pos + 1, TICK, depth + 1);
        } else if (node.type === 'PropertyDefinition' && node.value &&
                   !isTrivialExpression(node.value)) {
          this.wrapExpression(node.value, depth + 1);
        } else if (node.type === 'AssignmentPattern' && inParams &&
                   !isTrivialExpression(node.right)) {
          this.wrapExpression(node.right, depth + 1);
        } else if (node.type === 'AwaitExpression' && fn && fn.async && !fn.generator) {
          this.around(node.argument.start, '$__s($__d,(', node.argument.end, '))', depth + 1);
        } else if (node.type === 'SpreadElement') {
          this.around(node.argument.start, '$__sp((', node.argument.end, '))', depth + 1);
        }
      }, null, null, false, top);
      if (version >= 2) {
        for (const stmt of statements) {
          if (this.parenStarts.has(stmt.start)) this.insert(stmt.start, '0,', nodeDepth.get(stmt));
        }
        for (const [owner, n] of this.levels) {
          const at = this.tempsAt.get(owner);
          if (!at) fail('a site without a place for its temporaries');
          const names = [];
          for (let i = 0; i < n; i += 1) names.push(`$__a${i}`, `$__b${i}`, `$__o${i}`, `$__k${i}`);
          this.insert(at.pos, `let ${names.join(',')};`, at.depth);
        }
      }
      const edits = this.edits.slice().sort((a, b) => a.pos - b.pos || a.rank - b.rank);
      const out = [];
      let at = 0;
      for (const e of edits) {
        if (e.pos < at) fail('overlapping edits');
        out.push(this.source.slice(at, e.pos), e.text);
        at = e.end === undefined ? e.pos : e.end;
      }
      out.push(this.source.slice(at));
      return out.join('');
    }
  }

  const unparen = node => (node.type === 'ParenthesizedExpression' ? unparen(node.expression) : node);

  const isTick = stmt =>
    stmt && stmt.type === 'IfStatement' && stmt.test.type === 'BinaryExpression' &&
    stmt.test.left.type === 'UpdateExpression' &&
    stmt.test.left.argument.type === 'MemberExpression' &&
    stmt.test.left.argument.object.name === '$__m' &&
    stmt.consequent.type === 'ExpressionStatement' &&
    stmt.consequent.expression.type === 'CallExpression' &&
    stmt.consequent.expression.callee.name === '$__r';

  const isMeterCall = (node, name) => {
    const e = unparen(node);
    return e.type === 'CallExpression' && e.callee.type === 'Identifier' && e.callee.name === name;
  };

  // Meter version 2: an operator left in the output is either bounded (two literals, or a
  // comparison with a bounded side) or the inline case of a site, `T ? x op y : ...`, whose
  // operands are temporaries (or number literals) and whose test T is exactly the one that
  // admits only the cheap case.
  const verifyOperator = (node, parent, out) => {
    const l = unparen(node.left);
    const r = unparen(node.right);
    if (boundedLiterals(l, r)) return;
    if (COMPARISON.has(node.operator) &&
        (boundedOperand(l, node.operator) || boundedOperand(r, node.operator))) {
      return;
    }
    // The meter's own numbers: the tick's `--$__m.c<0`, the prologue's depth check
    // `$__d>$__m.L`, the epilogue's `$__d-1`.
    const meterMember = (e, name) => e.type === 'MemberExpression' && !e.computed &&
      e.object.type === 'Identifier' && e.object.name === '$__m' && e.property.name === name;
    if ((node.operator === '<' && l.type === 'UpdateExpression' && meterMember(l.argument, 'c') &&
         r.type === 'Literal' && r.value === 0) ||
        (l.type === 'Identifier' && l.name === '$__d' &&
         ((node.operator === '>' && meterMember(r, 'L')) ||
          (node.operator === '-' && r.type === 'Literal' && r.value === 1)))) {
      return;
    }
    // A key site's length test (version 3): `$__k<n>.length<=256`, two numbers.
    if (node.operator === '<=' && l.type === 'MemberExpression' && !l.computed &&
        l.object.type === 'Identifier' && TEMP_KEY.test(l.object.name) &&
        l.property.name === 'length' && isNumberLiteral(r)) {
      return;
    }
    const operand = e => {
      if (e.type === 'Identifier' && TEMP.test(e.name)) return e.name;
      if (isNumberLiteral(e)) return out.slice(e.start, e.end);
      return null;
    };
    const x = operand(node.left);
    const y = operand(node.right);
    if (x === null || y === null || (!TEMP.test(x) && !TEMP.test(y)) ||
        !parent || parent.type !== 'ConditionalExpression' || parent.consequent !== node ||
        out.slice(parent.test.start, parent.test.end) !== fastTest(node.operator, x, y)) {
      fail(`verify: an operator ${node.operator} outside the meter`);
    }
  };

  // Meter version 3: every property key the engine would convert is bounded, a temporary of a
  // compound assignment or a member site, a $__pk call, or a member site's guard.
  const verifyKey = (node, out) => {
    const keyOk = key => {
      const k = unparen(key);
      if (boundedKey(k) || isMeterCall(k, '$__pk')) return true;
      if (k.type === 'Identifier' && TEMP_KEY.test(k.name)) return true;
      if (k.type !== 'SequenceExpression' || k.expressions.length !== 2) return false;
      const [bind, test] = k.expressions;
      if (bind.type !== 'AssignmentExpression' || bind.operator !== '=' ||
          bind.left.type !== 'Identifier' || !TEMP_KEY.test(bind.left.name)) {
        return false;
      }
      const t = bind.left.name;
      return test.type === 'ConditionalExpression' &&
        out.slice(test.test.start, test.test.end) === keyTest(t) &&
        test.consequent.type === 'Identifier' && test.consequent.name === t &&
        isMeterCall(test.alternate, '$__pk') && test.alternate.arguments.length === 1 &&
        test.alternate.arguments[0].type === 'Identifier' && test.alternate.arguments[0].name === t;
    };
    let key = null;
    if (node.type === 'MemberExpression' && node.computed) key = node.property;
    else if (node.type === 'BinaryExpression' && node.operator === 'in' &&
             node.left.type !== 'PrivateIdentifier') key = node.left;
    else if ((node.type === 'Property' || node.type === 'MethodDefinition' ||
              node.type === 'PropertyDefinition') && node.computed) key = node.key;
    if (key !== null && !keyOk(key)) fail('verify: a property key outside the meter');
  };

  // Checks the rewritten program: every function body starts with the meter, every loop body
  // and static block with a tick, every spread and await goes through the meter (and from
  // version 2 every operator that needs it).
  const verify = (ast, version, out) => {
    walk(ast, (node, parent, fn) => {
      if (version >= 2) {
        if (node.type === 'BinaryExpression' &&
            (ARITHMETIC.has(node.operator) || COMPARISON.has(node.operator))) {
          verifyOperator(node, parent, out);
        } else if (node.type === 'AssignmentExpression' && COMPOUND.has(node.operator)) {
          fail(`verify: an assignment ${node.operator} outside the meter`);
        } else if (node.type === 'TemplateLiteral' && node.expressions.length > 0 &&
                   !(parent && parent.type === 'TaggedTemplateExpression')) {
          if (!parent || !isMeterCall(parent, '$__tc') || parent.arguments[0] !== node ||
              !node.expressions.every(e => isMeterCall(e, '$__ts'))) {
            fail('verify: a template literal outside the meter');
          }
        }
      }
      if (version >= 3) verifyKey(node, out);
      if (FUNCTION_TYPES.has(node.type)) {
        if (node.body.type !== 'BlockStatement') fail('verify: a function without a block body');
        let body = node.body.body.filter(s => typeof s.directive !== 'string');
        while (body.length && body[0].type === 'EmptyStatement') body = body.slice(1);
        if (node.generator) {
          if (!isTick(body[0])) fail('verify: a generator without a tick');
          return;
        }
        const [decl, deep, tick, tryStmt] = body;
        if (body.length !== 4 || decl.type !== 'VariableDeclaration' ||
            decl.declarations[0].id.name !== '$__d' || deep.type !== 'IfStatement' ||
            !isTick(tick) || tryStmt.type !== 'TryStatement' || !tryStmt.finalizer) {
          fail('verify: a function without the meter prologue');
        }
      } else if (LOOP_TYPES.has(node.type)) {
        if (node.body.type !== 'BlockStatement' || !isTick(node.body.body[0])) {
          fail('verify: a loop without a tick');
        }
      } else if (node.type === 'StaticBlock') {
        if (!isTick(node.body[0])) fail('verify: a static block without a tick');
      } else if (node.type === 'SpreadElement') {
        if (!isMeterCall(node.argument, '$__sp')) fail('verify: a spread without the meter');
      } else if (node.type === 'AwaitExpression' && fn && fn.async && !fn.generator) {
        if (!isMeterCall(node.argument, '$__s')) fail('verify: an await without the meter');
      }
    });
  };

  // instrument(source, module, version) -> the instrumented source text, by the rules of meter
  // `version` (1 up to the newest this file knows).
  const NEWEST_VERSION = 3;
  const instrument = (source, module, version) => {
    if (typeof source !== 'string') fail('source must be a string');
    if (!(version >= 1 && version <= NEWEST_VERSION && version === (version | 0))) {
      fail(`unknown meter version ${version}`);
    }
    let ast;
    try {
      ast = parse(source, module === true);
    } catch (e) {
      fail(`cannot parse: ${e && e.message}`);
    }
    const out = new Rewriter(source).rewrite(ast, version, module === true);
    let again;
    try {
      again = parse(out, module === true);
    } catch (e) {
      fail(`the rewritten program does not parse (${e && e.message})`);
    }
    verify(again, version, out);
    return out;
  };

  // The check alone, on a text said to be instrumented (for tests of the check itself).
  instrument.verifyOutput = (text, module, version) => {
    verify(parse(text, module === true), version, text);
    return true;
  };

  globalThis.instrument = instrument;
})();
