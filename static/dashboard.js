// PartnerDesk live dashboard: sign in, show the badge counts and the activity feed, and keep
// them current through GraphQL subscriptions (graphql-transport-ws, via graphql-ws's browser
// build, global `graphqlWs`). Plain browser JavaScript, no build step.
(function () {
  'use strict';

  var FEED_LENGTH = 50;
  var POLL_MILLISECONDS = 15000; // only while live updates are unavailable
  var FORBIDDEN = 4403; // no valid member token at connection_init: sign in again
  var UNAUTHORIZED = 4401; // the token died (signed out, expired, revoked): sign in again
  // Close codes after which graphql-ws does not retry (protocol or server errors).
  var GIVE_UP_CODES = [4004, 4005, 4400, 4406, 4409, 4429, 4500];

  var LOGIN = 'mutation Login($input: LoginInput!) {\n' +
    '  login(input: $input) { token errors { code message field } }\n}';
  var INITIAL_STATE = '{ viewer { member { name partner { name pendingInvitationCount newInquiryCount } } }' +
    ' activity(first: 20) { edges { node { id verb summary at actorName } } } }';
  var PENDING_COUNTS = 'subscription { pendingCounts { invitations inquiries } }';
  var ACTIVITY = 'subscription { activity { id verb summary at actorName } }';

  var elements = {};
  [
    'login', 'login-form', 'login-email', 'login-password', 'login-submit', 'login-error',
    'dashboard', 'greeting', 'partner-name', 'status', 'logout', 'team-link',
    'pending-invitations', 'new-inquiries', 'activity', 'activity-empty',
  ].forEach(function (id) {
    elements[id] = document.getElementById(id);
  });

  var session = null; // {token, client, unsubscribe: [functions], poll: interval id}

  // The development mailbox exists only in development: link it when the server has it.
  fetch('/dev/mail/messages', { method: 'HEAD' })
    .then(function (response) {
      document.getElementById('dev-mail-link').hidden = !response.ok;
    })
    .catch(function () {});
  var timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

  var graphql = PartnerDesk.graphql;

  // ------------------------------------------------------------------ rendering

  function setStatus(state, text) {
    elements.status.dataset.state = state;
    elements.status.textContent = text;
  }

  function showCount(element, value) {
    var text = String(value);
    if (element.textContent === text) return;
    var wasShown = element.textContent !== '–';
    element.textContent = text;
    element.classList.toggle('nonzero', value > 0);
    if (wasShown) {
      element.classList.add('changed');
      setTimeout(function () {
        element.classList.remove('changed');
      }, 600);
    }
  }

  function activityItem(entry, fresh) {
    var item = document.createElement('li');
    if (entry.id) item.dataset.id = entry.id;
    if (fresh) item.className = 'fresh';
    var summary = document.createElement('span');
    summary.className = 'summary';
    summary.textContent = entry.summary;
    var when = document.createElement('time');
    when.dateTime = entry.at;
    when.textContent = timeFormat.format(new Date(entry.at));
    var meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = (entry.actorName || 'System') + ' · ' + entry.verb.toLowerCase().replace(/_/g, ' ');
    item.append(summary, when, meta);
    return item;
  }

  function showActivity(entries) {
    elements.activity.replaceChildren.apply(
      elements.activity,
      entries.map(function (entry) {
        return activityItem(entry, false);
      })
    );
    elements['activity-empty'].hidden = entries.length > 0;
  }

  function addActivity(entry) {
    if (entry.id && elements.activity.querySelector('li[data-id="' + CSS.escape(entry.id) + '"]')) return;
    elements.activity.prepend(activityItem(entry, true));
    while (elements.activity.children.length > FEED_LENGTH) elements.activity.lastElementChild.remove();
    elements['activity-empty'].hidden = true;
  }

  function showState(data) {
    var member = data.viewer && data.viewer.member;
    elements.greeting.textContent = 'Hello, ' + member.name;
    elements['partner-name'].textContent = member.partner.name;
    showCount(elements['pending-invitations'], member.partner.pendingInvitationCount);
    showCount(elements['new-inquiries'], member.partner.newInquiryCount);
    showActivity(data.activity.edges.map(function (edge) {
      return edge.node;
    }));
  }

  // ------------------------------------------------------------------ session

  function refresh() {
    if (!session) return Promise.resolve();
    var token = session.token;
    return graphql(INITIAL_STATE, {}, token).then(function (data) {
      if (!session || session.token !== token) return;
      if (!data.viewer || !data.viewer.member) throw new Error('Please sign in with a partner account.');
      showState(data);
    });
  }

  function subscribe(client, query, onData) {
    return client.subscribe(
      { query: query },
      {
        next: function (result) {
          if (result.data) onData(result.data);
          if (result.errors) console.warn('subscription error', result.errors);
        },
        error: function (error) {
          // A GraphQL error ends this subscription (the socket stays up for the other one).
          console.warn('subscription failed', error);
          liveUnavailable();
        },
        complete: function () {},
      }
    );
  }

  function liveUnavailable() {
    setStatus('offline', 'Live updates unavailable');
    if (session && !session.poll) {
      session.poll = setInterval(function () {
        refresh().catch(function () {});
      }, POLL_MILLISECONDS);
    }
  }

  function connectLive(token) {
    if (typeof graphqlWs === 'undefined') {
      liveUnavailable();
      return null;
    }
    var scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    var everConnected = false;
    var client = graphqlWs.createClient({
      url: scheme + '//' + window.location.host + '/graphql',
      connectionParams: { authorization: 'Bearer ' + token },
      lazy: false,
      retryAttempts: Infinity,
      shouldRetry: function (event) {
        return !(event && (event.code === FORBIDDEN || event.code === UNAUTHORIZED));
      },
      // The socket gave up for good (e.g. the server speaks another protocol).
      onNonLazyError: function (error) {
        console.warn('live connection failed', error);
        if (session) liveUnavailable();
      },
      on: {
        connecting: function () {
          setStatus(everConnected ? 'reconnecting' : 'connecting', everConnected ? 'Reconnecting…' : 'Connecting…');
        },
        connected: function () {
          setStatus('live', 'Live');
          if (session && session.poll) {
            clearInterval(session.poll);
            session.poll = null;
          }
          // Whatever happened while the socket was down is only in the database.
          if (everConnected) refresh().catch(function () {});
          everConnected = true;
        },
        closed: function (event) {
          if (!session) return;
          if (event && (event.code === FORBIDDEN || event.code === UNAUTHORIZED)) {
            signOut('Your session has ended. Please sign in again.');
          } else if (event && GIVE_UP_CODES.indexOf(event.code) >= 0) {
            console.warn('live connection closed for good', event.code, event.reason);
            liveUnavailable();
          } else {
            setStatus('reconnecting', 'Reconnecting…');
          }
        },
      },
    });
    return client;
  }

  function start(token) {
    stop();
    session = { token: token, client: null, unsubscribe: [], poll: null };
    setStatus('connecting', 'Loading…');
    return refresh().then(function () {
      elements.login.hidden = true;
      elements.dashboard.hidden = false;
      elements.logout.hidden = false;
      elements['team-link'].hidden = false;
      var client = connectLive(token);
      if (!client || !session) return;
      session.client = client;
      session.unsubscribe.push(
        subscribe(client, PENDING_COUNTS, function (data) {
          showCount(elements['pending-invitations'], data.pendingCounts.invitations);
          showCount(elements['new-inquiries'], data.pendingCounts.inquiries);
        }),
        subscribe(client, ACTIVITY, function (data) {
          addActivity(data.activity);
        })
      );
    });
  }

  function stop() {
    if (!session) return;
    session.unsubscribe.forEach(function (unsubscribe) {
      unsubscribe();
    });
    if (session.client) session.client.dispose();
    if (session.poll) clearInterval(session.poll);
    session = null;
  }

  function signOut(message) {
    var token = session && session.token;
    stop();
    PartnerDesk.clearToken();
    if (token && !message) graphql('mutation { logout { ok } }', {}, token).catch(function () {});
    elements.dashboard.hidden = true;
    elements.logout.hidden = true;
    elements['team-link'].hidden = true;
    elements.login.hidden = false;
    elements['partner-name'].textContent = '';
    ['pending-invitations', 'new-inquiries'].forEach(function (id) {
      elements[id].textContent = '–';
      elements[id].className = 'count';
    });
    setStatus('signed-out', 'Signed out');
    showLoginError(message || '');
  }

  function showLoginError(message) {
    elements['login-error'].textContent = message;
    elements['login-error'].hidden = !message;
  }

  // ------------------------------------------------------------------ wiring

  elements['login-form'].addEventListener('submit', function (event) {
    event.preventDefault();
    var email = elements['login-email'].value.trim();
    var password = elements['login-password'].value;
    if (!email || !password) {
      showLoginError('Please enter your e-mail address and password.');
      return;
    }
    showLoginError('');
    elements['login-submit'].disabled = true;
    graphql(LOGIN, { input: { realm: 'PARTNER', email: email, password: password } })
      .then(function (data) {
        var payload = data.login;
        if (payload.errors.length) throw new Error(payload.errors[0].message);
        PartnerDesk.setToken(payload.token);
        elements['login-password'].value = '';
        return start(payload.token);
      })
      .catch(function (error) {
        stop();
        setStatus('signed-out', 'Signed out');
        showLoginError(error.message || 'Sign-in failed.');
      })
      .finally(function () {
        elements['login-submit'].disabled = false;
      });
  });

  elements.logout.addEventListener('click', function () {
    signOut();
  });

  var saved = PartnerDesk.token();
  if (saved) {
    start(saved).catch(function () {
      signOut('Your session has expired. Please sign in again.');
    });
  }
})();
