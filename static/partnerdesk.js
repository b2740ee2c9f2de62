// What every PartnerDesk page shares: GraphQL over HTTP and the signed-in member's token.
// Plain browser JavaScript, no build step; pages load it before their own script and use the
// global `PartnerDesk`.
(function () {
  'use strict';

  var TOKEN_KEY = 'partnerdesk.dashboardToken';

  // POST one operation; resolves to `data`, rejects with the first top-level error (its
  // `graphqlErrors` property has them all). Payload `errors` are for the caller to read.
  function graphql(query, variables, token) {
    var headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
    var bearer = token === undefined ? sessionStorage.getItem(TOKEN_KEY) : token;
    if (bearer) headers.authorization = 'Bearer ' + bearer;
    return fetch('/graphql', {
      method: 'POST',
      headers: headers,
      body: JSON.stringify({ query: query, variables: variables || {} }),
    }).then(function (response) {
      return response.json().then(function (body) {
        if (body.errors && body.errors.length) {
          var error = new Error(body.errors[0].message);
          error.graphqlErrors = body.errors;
          throw error;
        }
        return body.data;
      });
    });
  }

  // POST one mutation with files, as the GraphQL multipart request specification says:
  // `files` maps a variable name to a File, which goes where that variable is (null in the
  // JSON). Resolves and rejects as graphql() does.
  function upload(query, variables, files) {
    var names = Object.keys(files);
    var operations = { query: query, variables: Object.assign({}, variables) };
    var map = {};
    names.forEach(function (name, index) {
      operations.variables[name] = null;
      map[String(index)] = ['variables.' + name];
    });
    var form = new FormData();
    form.append('operations', JSON.stringify(operations));
    form.append('map', JSON.stringify(map));
    names.forEach(function (name, index) {
      form.append(String(index), files[name], files[name].name);
    });
    // The preflight header keeps other sites from posting files here (the server asks for it).
    var headers = { accept: 'application/json', 'graphql-require-preflight': '1' };
    var bearer = sessionStorage.getItem(TOKEN_KEY);
    if (bearer) headers.authorization = 'Bearer ' + bearer;
    return fetch('/graphql', { method: 'POST', headers: headers, body: form }).then(function (response) {
      if (response.status === 413) throw new Error('The file is too large.');
      return response.json().then(function (body) {
        if (body.errors && body.errors.length) {
          var error = new Error(body.errors[0].message);
          error.graphqlErrors = body.errors;
          throw error;
        }
        return body.data;
      });
    });
  }

  window.PartnerDesk = {
    graphql: graphql,
    upload: upload,
    token: function () {
      return sessionStorage.getItem(TOKEN_KEY);
    },
    setToken: function (token) {
      sessionStorage.setItem(TOKEN_KEY, token);
    },
    clearToken: function () {
      sessionStorage.removeItem(TOKEN_KEY);
    },
  };
})();
