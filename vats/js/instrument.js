// instrument.js: the metering instrumenter, meter version 1.
//
// Rewrites JavaScript source (a module or a script) so that running it counts computrons and call
// depth deterministically. It runs in its own tool global, with SpiderMonkey's Reflect.parse, and
// only inserts text: the program's own code is kept byte for byte between the insertions.
//
// What it inserts (the meter names start with `$__`, which the program may not use):
//   - a tick `if(--$__m.c<0)$__r();` at the start of every loop body and of every generator
//     body, and inside every function prologue and class static block;
//   - a depth prologue in every non-generator function:
//       const $__d=++$__m.d;if($__d>$__m.L)$__deep();TICK try{ BODY }finally{$__m.d=$__d-1}
//     (an arrow with an expression body gets a block body returning the expression);
//   - parameter defaults and class field initialisers that are more than a literal or a name are
//     moved into an arrow called on the spot, so a recursion through them meets a prologue;
//   - in async functions, `await X` becomes `await $__s($__d,X)`: the depth is given back before
//     the frame suspends.
// Generators get a tick but no depth prologue: a resumed generator frame is a real stack frame,
// so the trusted prelude counts depth in %GeneratorPrototype%.next/throw/return (and the async
// ones) instead.
//
// The result is parsed again and checked; anything unexpected throws (fail closed). Every change
// to what this file writes changes tick counts, which are consensus: it needs a new meter version.

'use strict';

const TICK = 'if(--$__m.c<0)$__r();';

const PROLOGUE = `const $__d=++$__m.d;if($__d>$__m.L)$__deep();${TICK}try{`;
const EPILOGUE = '}finally{$__m.d=$__d-1}';

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);
const LOOP_TYPES = new Set([
  'WhileStatement', 'DoWhileStatement', 'ForStatement', 'ForInStatement', 'ForOfStatement',
]);
// Node types a program may contain. Anything else (a newer syntax this file does not know) is
// refused rather than passed through unmetered.
const KNOWN_TYPES = new Set([
  'Program', 'EmptyStatement', 'BlockStatement', 'ExpressionStatement', 'IfStatement',
  'LabeledStatement', 'BreakStatement', 'ContinueStatement', 'WithStatement', 'SwitchStatement',
  'ReturnStatement', 'ThrowStatement', 'TryStatement', 'WhileStatement', 'DoWhileStatement',
  'ForStatement', 'ForInStatement', 'ForOfStatement', 'DebuggerStatement',
  'FunctionDeclaration', 'VariableDeclaration', 'VariableDeclarator', 'SwitchCase',
  'CatchClause', 'ClassStatement', 'ClassExpression', 'ClassMethod', 'ClassField',
  'StaticClassBlock', 'ClassPrivateName', 'ImportDeclaration', 'ImportSpecifier',
  'ImportNamespaceSpecifier', 'ExportDeclaration', 'ExportSpecifier', 'ExportNamespaceSpecifier',
  'ExportBatchSpecifier', 'ImportAssertion', 'Identifier', 'Literal', 'TemplateLiteral',
  'TaggedTemplate', 'CallSiteObject', 'ThisExpression', 'ArrayExpression', 'ObjectExpression',
  'Property', 'PrototypeMutation', 'FunctionExpression', 'ArrowFunctionExpression',
  'SequenceExpression', 'UnaryExpression', 'BinaryExpression', 'AssignmentExpression',
  'UpdateExpression', 'LogicalExpression', 'ConditionalExpression', 'NewExpression',
  'CallExpression', 'OptionalExpression', 'OptionalCallExpression', 'OptionalMemberExpression',
  'MemberExpression', 'YieldExpression', 'ComputedName', 'SpreadExpression', 'ObjectPattern',
  'ArrayPattern', 'AssignmentPattern', 'MetaProperty', 'Super', 'CallImport',
  'ImportExpression', 'ClassBody', 'ModuleRequest',
]);

class InstrumentError extends Error {}

function fail(message) {
  throw new InstrumentError(`instrument: ${message}`);
}

// Offsets of the start of each line, as Reflect.parse counts lines (LF, CR, CRLF, LS, PS).
function lineStarts(text) {
  const starts = [0, 0];  // lines are 1-based
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x0d && text.charCodeAt(i + 1) === 0x0a) {
      i += 1;
      starts.push(i + 1);
    } else if (c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029) {
      starts.push(i + 1);
    }
  }
  return starts;
}

function isTrivialExpression(node) {
  return node.type === 'Literal' || node.type === 'Identifier' || node.type === 'ThisExpression';
}

// Walks `node`, calling visit(node, parent, key, fn) for every AST node, where fn is the nearest
// enclosing function node (or null at top level).
function walk(node, visit, parent = null, key = '', fn = null) {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const child of node) walk(child, visit, parent, key, fn);
    return;
  }
  if (typeof node.type !== 'string') return;
  visit(node, parent, key, fn);
  const inner = FUNCTION_TYPES.has(node.type) ? node : fn;
  for (const k of Object.keys(node)) {
    if (k === 'loc' || k === 'type') continue;
    walk(node[k], visit, node, k, inner);
  }
}

class Rewriter {
  constructor(source) {
    this.source = source;
    this.starts = lineStarts(source);
    this.edits = [];  // {pos, text, rank}
  }

  offset(point) {
    const lineStart = this.starts[point.line];
    if (lineStart === undefined) fail(`no line ${point.line}`);
    return lineStart + point.column;
  }

  start(node) {
    if (!node.loc) fail(`${node.type} without a location`);
    return this.offset(node.loc.start);
  }

  end(node) {
    if (!node.loc) fail(`${node.type} without a location`);
    return this.offset(node.loc.end);
  }

  // Text inserted around the range [from, to) of a node at nesting `depth`. Insertions at one
  // offset go in this order: the closings of ranges that began earlier (inner first), then the
  // openings (outer first), then the closings of ranges that began at that very offset (empty
  // ranges, inner first).
  around(from, openText, to, closeText, depth) {
    this.edits.push({ pos: from, text: openText, rank: 1e7 + depth });
    this.edits.push({ pos: to, text: closeText, rank: (to > from ? 0 : 2e7) + 1e6 - depth });
  }

  insert(pos, text, depth) {
    this.edits.push({ pos, text, rank: 1e7 + depth });
  }

  // Skips white space and comments from `pos`; returns the next significant offset.
  skipTrivia(pos) {
    const s = this.source;
    for (;;) {
      const c = s.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c ||
          c === 0xa0 || c === 0xfeff || c === 0x2028 || c === 0x2029 || (c >= 0x2000 && c <= 0x200a) ||
          c === 0x1680 || c === 0x202f || c === 0x205f || c === 0x3000) {
        pos += 1;
      } else if (c === 0x2f && s.charCodeAt(pos + 1) === 0x2f) {
        pos += 2;
        while (pos < s.length && !/[\n\r\u2028\u2029]/.test(s[pos])) pos += 1;
      } else if (c === 0x2f && s.charCodeAt(pos + 1) === 0x2a) {
        const close = s.indexOf('*/', pos + 2);
        if (close < 0) fail('unterminated comment');
        pos = close + 2;
      } else {
        return pos;
      }
    }
  }

  // The offset just after the `{` that opens a block body, and after its directive prologue.
  blockBodyStart(block) {
    const open = this.start(block);
    if (this.source[open] !== '{') fail(`a ${block.type} that does not start with {`);
    let pos = open + 1;
    for (const stmt of block.body) {
      if (stmt.type !== 'ExpressionStatement' || stmt.expression.type !== 'Literal' ||
          typeof stmt.expression.value !== 'string') {
        break;
      }
      pos = this.end(stmt);
    }
    return pos;
  }

  blockBodyEnd(block) {
    const close = this.end(block) - 1;
    if (this.source[close] !== '}') fail(`a ${block.type} that does not end with }`);
    return close;
  }

  // Wraps an expression in an instrumented arrow called at once: `(()=>{PRO try{return (E)}
  // finally{EPI}})()`. The expression's range may exclude parentheses around it; they stay
  // outside, which is still valid.
  wrapExpression(expr, depth) {
    this.around(this.start(expr), `(()=>{${PROLOGUE}return (`, this.end(expr),
                `)${EPILOGUE}})()`, depth);
  }

  // The range of an arrow's expression body with any parentheses around it: from just after `=>`
  // to the end of the arrow (an arrow's range, unlike an operand's, covers those parentheses).
  arrowBodyRange(arrow) {
    let pos = this.start(arrow);
    for (const p of [...arrow.params, ...arrow.defaults, arrow.rest]) {
      if (p) pos = Math.max(pos, this.end(p));
    }
    const s = this.source;
    for (;;) {
      pos = this.skipTrivia(pos);
      if (s.startsWith('=>', pos)) break;
      if (s[pos] === ')' || s[pos] === ',' || s[pos] === '(') {
        pos += 1;
      } else if (s.startsWith('async', pos)) {
        pos += 5;
      } else {
        fail(`no => in an arrow function at ${pos}`);
      }
    }
    return [pos + 2, this.end(arrow)];
  }

  fn(node, depth) {
    const tickOnly = node.generator;
    if (node.type === 'ArrowFunctionExpression' && node.expression) {
      const [from, to] = this.arrowBodyRange(node);
      this.around(from, `{${PROLOGUE}return (`, to, `)${EPILOGUE}}`, depth);
    } else if (node.body.type === 'BlockStatement') {
      const from = this.blockBodyStart(node.body);
      if (tickOnly) {
        this.insert(from, `;${TICK}`, depth);
      } else {
        this.around(from, `;${PROLOGUE}`, this.blockBodyEnd(node.body), EPILOGUE, depth);
      }
    } else {
      fail(`a ${node.type} whose body is a ${node.body.type}`);
    }
    for (const d of node.defaults || []) {
      if (d && !isTrivialExpression(d)) this.wrapExpression(d, depth + 1);
    }
  }

  loopBody(body, depth) {
    if (body.type === 'BlockStatement') {
      this.insert(this.start(body) + 1, TICK, depth);
    } else {
      this.around(this.start(body), `{${TICK}`, this.end(body), '}', depth);
    }
  }

  rewrite(ast) {
    const nodeDepth = new Map();
    walk(ast, (node, parent, key, fn) => {
      const depth = parent ? nodeDepth.get(parent) + 1 : 0;
      nodeDepth.set(node, depth);
      if (!KNOWN_TYPES.has(node.type)) fail(`unsupported syntax ${node.type}`);
      if (node.type === 'Identifier' && typeof node.name === 'string' && node.name.startsWith('$__')) {
        fail(`the name ${node.name} is reserved for the meter`);
      }
      if (FUNCTION_TYPES.has(node.type)) {
        this.fn(node, depth);
      } else if (LOOP_TYPES.has(node.type)) {
        this.loopBody(node.body, depth + 1);
      } else if (node.type === 'StaticClassBlock') {
        this.insert(this.start(node.body) + 1, TICK, depth + 1);
      } else if (node.type === 'ClassField' && node.init && !isTrivialExpression(node.init)) {
        this.wrapExpression(node.init, depth + 1);
      } else if (node.type === 'UnaryExpression' && node.operator === 'await' && fn &&
                 fn.async && !fn.generator) {
        this.around(this.start(node.argument), '$__s($__d,', this.end(node.argument), ')', depth + 1);
      }
    });
    const edits = this.edits.slice().sort((a, b) => a.pos - b.pos || a.rank - b.rank);
    const out = [];
    let at = 0;
    for (const e of edits) {
      out.push(this.source.slice(at, e.pos), e.text);
      at = e.pos;
    }
    out.push(this.source.slice(at));
    return out.join('');
  }
}

function isTick(stmt) {
  return stmt && stmt.type === 'IfStatement' && stmt.test.type === 'BinaryExpression' &&
    stmt.test.left.type === 'UpdateExpression' && stmt.test.left.argument.type === 'MemberExpression' &&
    stmt.test.left.argument.object.name === '$__m' && stmt.consequent.type === 'ExpressionStatement' &&
    stmt.consequent.expression.type === 'CallExpression' &&
    stmt.consequent.expression.callee.name === '$__r';
}

function statementsAfterDirectives(block) {
  let i = 0;
  while (i < block.body.length && block.body[i].type === 'ExpressionStatement' &&
         block.body[i].expression.type === 'Literal' &&
         typeof block.body[i].expression.value === 'string') {
    i += 1;
  }
  return block.body.slice(i);
}

// Checks the rewritten program: every function body starts with the meter and every loop body
// with a tick. Throws when not.
function verify(ast) {
  walk(ast, node => {
    if (FUNCTION_TYPES.has(node.type)) {
      if (node.body.type !== 'BlockStatement') fail('verify: a function without a block body');
      let body = statementsAfterDirectives(node.body);
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
    } else if (node.type === 'StaticClassBlock') {
      if (!isTick(node.body.body[0])) fail('verify: a static block without a tick');
    }
  });
}

// instrument(source, module) -> the instrumented source text.
function instrument(source, module) {
  if (typeof source !== 'string') fail('source must be a string');
  const target = module === true ? 'module' : 'script';
  let ast;
  try {
    ast = Reflect.parse(source, { target, loc: true });
  } catch (e) {
    fail(`cannot parse: ${e && e.message}`);
  }
  const out = new Rewriter(source).rewrite(ast);
  let again;
  try {
    again = Reflect.parse(out, { target, loc: false });
  } catch (e) {
    fail(`the rewritten program does not parse (${e && e.message})`);
  }
  verify(again);
  return out;
}

globalThis.instrument = instrument;
