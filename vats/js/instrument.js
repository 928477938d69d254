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

  // Calls visit(node, parent, fn, inParams) for every node, where fn is the nearest enclosing
  // function (or null) and inParams says whether the node is inside that function's parameters.
  const walk = (node, visit, parent = null, fn = null, inParams = false) => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const child of node) walk(child, visit, parent, fn, inParams);
      return;
    }
    if (typeof node.type !== 'string') return;
    visit(node, parent, fn, inParams);
    if (FUNCTION_TYPES.has(node.type)) {
      for (const p of node.params) walk(p, visit, node, node, true);
      walk(node.id, visit, node, node, false);
      walk(node.body, visit, node, node, false);
      return;
    }
    for (const key of Object.keys(node)) {
      if (key === 'type' || key === 'start' || key === 'end') continue;
      walk(node[key], visit, node, fn, inParams);
    }
  };

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

    fn(node, depth) {
      if (node.type === 'ArrowFunctionExpression' && node.expression) {
        this.around(node.body.start, `{${PROLOGUE}return (`, node.body.end, `)${EPILOGUE}}`, depth);
      } else if (node.body.type === 'BlockStatement') {
        const from = this.blockBodyStart(node.body);
        if (node.generator) {
          this.insert(from, `;${TICK}`, depth);
        } else {
          this.around(from, `;${PROLOGUE}`, this.blockBodyEnd(node.body), EPILOGUE, depth);
        }
      } else {
        fail(`a ${node.type} whose body is a ${node.body.type}`);
      }
    }

    loopBody(body, depth) {
      if (body.type === 'BlockStatement') {
        this.insert(body.start + 1, TICK, depth);
      } else {
        this.around(body.start, `{${TICK}`, body.end, '}', depth);
      }
    }

    rewrite(ast) {
      const nodeDepth = new Map();
      walk(ast, (node, parent, fn, inParams) => {
        const depth = parent ? nodeDepth.get(parent) + 1 : 0;
        nodeDepth.set(node, depth);
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

  // Checks the rewritten program: every function body starts with the meter, every loop body
  // and static block with a tick, every spread and await goes through the meter.
  const verify = ast => {
    walk(ast, (node, parent, fn) => {
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
  const NEWEST_VERSION = 2;
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
    const out = new Rewriter(source).rewrite(ast);
    let again;
    try {
      again = parse(out, module === true);
    } catch (e) {
      fail(`the rewritten program does not parse (${e && e.message})`);
    }
    verify(again);
    return out;
  };

  globalThis.instrument = instrument;
})();
