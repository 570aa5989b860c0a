// Entitle's GraphiQL bootstrap, served at /graphql/assets/graphiql.js.
//
// A separate file so that the page needs no inline script (the page is sent
// with `script-src 'self'`). Needs the globals React, ReactDOM (react@18.3.1,
// react-dom@18.3.1 UMD production builds) and GraphiQL (graphiql@4.1.2 UMD),
// all loaded before this file by /graphql (index.html).
//
// Queries and mutations: HTTP POST to the endpoint (default /graphql) with
// `Accept: application/graphql-response+json, application/json` and the
// headers typed into GraphiQL's Headers pane (e.g. {"Authorization": "Bearer …"}).
//
// Subscriptions: graphql-transport-ws on the subscription endpoint (default
// /graphql/ws), through the graphql-ws client that graphiql@4.1.2's UMD
// bundle carries inside `GraphiQL.createFetcher` (no separate graphql-ws file
// is needed). The Headers pane's Authorization is sent, and nothing else from
// that pane, as `connectionParams: { "authorization": "Bearer …" }`, which is
// where Entitle's WebSocket handler reads the token. The fetcher opens one
// lazy graphql-ws client per subscription, so a changed token is used by the
// next subscription run.
(function () {
  'use strict';

  var ACCEPT = 'application/graphql-response+json, application/json';
  var container = document.getElementById('graphiql');

  function fail(message) {
    var p = document.getElementById('graphiql-loading');
    if (!p) {
      p = document.createElement('p');
      p.id = 'graphiql-loading';
      container.appendChild(p);
    }
    p.textContent = message;
  }

  if (typeof React === 'undefined' || typeof ReactDOM === 'undefined' ||
      typeof GraphiQL === 'undefined' || typeof GraphiQL.createFetcher !== 'function') {
    fail('GraphiQL could not start: its scripts under /graphql/assets/ did not load.');
    return;
  }

  // Endpoints come from data attributes on <body>, so the page can be mounted
  // elsewhere without changing this file.
  var endpoint = document.body.getAttribute('data-endpoint') || '/graphql';
  var wsPath = document.body.getAttribute('data-subscription-endpoint') || '/graphql/ws';

  function absoluteWsUrl(path) {
    var url = new URL(path, window.location.href);
    if (url.protocol === 'https:') url.protocol = 'wss:';
    else if (url.protocol === 'http:') url.protocol = 'ws:';
    return url.href;
  }

  var toolkitFetcher = GraphiQL.createFetcher({
    url: endpoint,
    headers: { Accept: ACCEPT },
    // Entitle does not answer multipart/mixed (incremental delivery); a plain
    // JSON POST is what it speaks.
    enableIncrementalDelivery: false,
    subscriptionUrl: absoluteWsUrl(wsPath),
  });

  // The value of the Authorization header in the Headers pane, whatever its
  // capitalisation; undefined when there is none.
  function authorizationOf(headers) {
    if (!headers || typeof headers !== 'object') return undefined;
    for (var key in headers) {
      if (Object.prototype.hasOwnProperty.call(headers, key) &&
          key.toLowerCase() === 'authorization' && typeof headers[key] === 'string') {
        return headers[key];
      }
    }
    return undefined;
  }

  // The document being sent. GraphiQL hands the fetcher the AST of the query
  // editor as it last parsed it, which can lag behind the text (the editor
  // parses after a short delay): parse the text itself with the graphql-js
  // that the bundle exports, so that routing always follows what is sent.
  function documentOf(params, opts) {
    try {
      return GraphiQL.GraphQL.parse(params.query);
    } catch (e) {
      return opts && opts.documentAST;
    }
  }

  // The test @graphiql/toolkit's createFetcher applies to route an operation
  // to the WebSocket: an operation definition whose name equals the
  // requested operationName (both absent for an anonymous operation) and
  // whose type is subscription. The toolkit gets the same AST, so the two
  // always agree and HTTP requests get the Headers pane unchanged.
  function isSubscription(documentAST, operationName) {
    var wanted = operationName || undefined;
    var defs = (documentAST && documentAST.definitions) || [];
    for (var i = 0; i < defs.length; i++) {
      var def = defs[i];
      if (def.kind === 'OperationDefinition' && def.operation === 'subscription' &&
          (def.name ? def.name.value : undefined) === wanted) {
        return true;
      }
    }
    return false;
  }

  function fetcher(params, opts) {
    var documentAST = documentOf(params, opts);
    var options = Object.assign({}, opts, { documentAST: documentAST });
    if (isSubscription(documentAST, params && params.operationName)) {
      // For a subscription the toolkit passes options.headers as the
      // graphql-ws connectionParams: give it only the token, under the key
      // the server reads.
      var auth = authorizationOf(opts && opts.headers);
      options.headers = auth ? { authorization: auth } : {};
    }
    return toolkitFetcher(params, options);
  }

  var defaultQuery = [
    '# Entitle GraphiQL',
    '#',
    '# Sign in with the register or login',
    '# mutation, then put its accessToken',
    '# into the Headers pane below:',
    '# {"Authorization": "Bearer <accessToken>"}',
    '# Subscriptions use the same token.',
    '',
    '{',
    '  plans {',
    '    name',
    '    features',
    '  }',
    '}',
    '',
  ].join('\n');

  ReactDOM.createRoot(container).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultHeaders: '{}',
      defaultEditorToolsVisibility: 'headers',
      // The Headers pane (with the token) is kept in GraphiQL's localStorage
      // across reloads, like the query tabs.
      shouldPersistHeaders: true,
    })
  );
})();
