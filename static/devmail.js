// The development mailbox (/dev/mail): the list of e-mails the worker kept, and one message's
// text and HTML parts. Plain browser JavaScript, no build step.
//
// Rendering safely: every value goes in with textContent (the text part included), never as
// HTML. The HTML part goes into a sandboxed iframe (no scripts, opaque origin) through srcdoc,
// with a Content-Security-Policy of its own on top of the page's, which it inherits: no
// script, no remote images, fonts or styles (tracking pixels stay unloaded), inline styles only.
(function () {
  'use strict';

  var POLL_MILLISECONDS = 2000;
  var MESSAGE_POLICY =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; form-action 'none'";

  var list = document.getElementById('messages');
  var empty = document.getElementById('empty');
  var view = document.getElementById('message');
  var timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  var shown = null; // id of the message on display
  var listed = ''; // the last listing, to redraw only on change

  function getJson(url) {
    return fetch(url, { headers: { accept: 'application/json' } }).then(function (response) {
      if (!response.ok) throw new Error(url + ': ' + response.status);
      return response.json();
    });
  }

  function text(element, value) {
    element.textContent = value == null ? '' : String(value);
    return element;
  }

  function span(className, value) {
    var element = document.createElement('span');
    element.className = className;
    return text(element, value);
  }

  function showList(messages) {
    var signature = JSON.stringify(messages);
    if (signature === listed) return;
    listed = signature;
    list.replaceChildren.apply(
      list,
      messages.map(function (message) {
        var button = document.createElement('button');
        button.type = 'button';
        button.dataset.id = message.id;
        if (String(message.id) === String(shown)) button.setAttribute('aria-current', 'true');
        button.append(
          span('subject', message.subject),
          span('meta', timeFormat.format(new Date(message.receivedAt))),
          span('meta', 'To ' + message.to),
          span('meta', message.language)
        );
        button.addEventListener('click', function () {
          location.hash = String(message.id);
        });
        var item = document.createElement('li');
        item.append(button);
        return item;
      })
    );
    empty.hidden = messages.length > 0;
    if (shown === null && messages.length && !location.hash) location.hash = String(messages[0].id);
  }

  function messageDocument(html) {
    return (
      '<!doctype html><html><head><meta charset="utf-8">' +
      '<meta http-equiv="Content-Security-Policy" content="' + MESSAGE_POLICY + '">' +
      '<base target="_blank"></head><body>' + html + '</body></html>'
    );
  }

  function showMessage(id) {
    return getJson('/dev/mail/messages/' + encodeURIComponent(id)).then(function (message) {
      shown = String(message.id);
      text(document.getElementById('message-to'), message.to);
      text(document.getElementById('message-from'), message.from);
      text(document.getElementById('message-subject'), message.subject);
      text(document.getElementById('message-date'), timeFormat.format(new Date(message.receivedAt)));
      text(document.getElementById('message-language'), message.language);
      text(document.getElementById('message-template'), message.template);
      text(document.getElementById('text-part'), message.text);
      document.getElementById('html-part').srcdoc = messageDocument(message.html);
      view.hidden = false;
      list.querySelectorAll('button').forEach(function (button) {
        button.setAttribute('aria-current', String(button.dataset.id === shown));
      });
    });
  }

  function refresh() {
    return getJson('/dev/mail/messages').then(function (body) {
      showList(body.messages);
    });
  }

  window.addEventListener('hashchange', function () {
    var id = location.hash.slice(1);
    if (id) showMessage(id).catch(function (error) { console.warn(error); });
  });

  refresh()
    .then(function () {
      var id = location.hash.slice(1);
      if (id) return showMessage(id);
    })
    .catch(function (error) {
      console.warn(error);
    });
  setInterval(function () {
    refresh().catch(function () {});
  }, POLL_MILLISECONDS);
})();
