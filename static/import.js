// PartnerDesk customer import: pick a CSV file, read the dry run's report, then import it and
// follow its progress. Plain browser JavaScript on the shared PartnerDesk helpers.
(function () {
  'use strict';

  var POLL_MILLISECONDS = 500;
  var REPORT = 'id status rows created updated skipped problems { row field message }';
  var IMPORT = 'mutation Import($file: Upload!, $dryRun: Boolean) {\n' +
    '  importCustomers(file: $file, dryRun: $dryRun) { customerImport { ' + REPORT + ' } errors { code message field } }\n}';
  var PROGRESS = 'query Progress($id: ID!) { customerImport(id: $id) { ' + REPORT + ' } }';

  var elements = {};
  ['signed-out', 'importer', 'import-file', 'report', 'summary', 'message', 'import', 'problems'].forEach(
    function (id) {
      elements[id] = document.getElementById(id);
    }
  );
  var file = null;
  var numbers = new Intl.NumberFormat();

  function showMessage(text, kind) {
    elements.message.textContent = text;
    elements.message.dataset.kind = kind || '';
  }

  function showProblems(problems) {
    var body = elements.problems.tBodies[0];
    body.replaceChildren.apply(
      body,
      problems.map(function (problem) {
        var row = document.createElement('tr');
        [problem.row === 0 ? 'header' : String(problem.row), problem.field || '', problem.message].forEach(
          function (text, index) {
            var cell = document.createElement('td');
            if (index === 0) cell.className = 'row';
            cell.textContent = text;
            row.append(cell);
          }
        );
        return row;
      })
    );
    elements.problems.hidden = problems.length === 0;
  }

  function showReport(report, checking) {
    var verb = checking ? ' would be ' : ' ';
    elements.summary.textContent =
      numbers.format(report.rows) + ' rows: ' +
      numbers.format(report.created) + verb + 'created, ' +
      numbers.format(report.updated) + verb + 'updated, ' +
      numbers.format(report.skipped) + verb + 'skipped';
    showProblems(report.problems);
    elements.report.hidden = false;
  }

  function send(dryRun) {
    return PartnerDesk.upload(IMPORT, { dryRun: dryRun }, { file: file }).then(function (data) {
      var payload = data.importCustomers;
      if (payload.errors.length) throw new Error(payload.errors[0].message);
      return payload.customerImport;
    });
  }

  function check() {
    elements.import.disabled = true;
    showMessage('Checking ' + file.name + '…');
    send(true)
      .then(function (report) {
        showReport(report, true);
        var writes = report.created + report.updated;
        showMessage(writes ? 'Nothing has been written yet: press Import to import the valid rows.' : 'The file has nothing to import.');
        elements.import.disabled = writes === 0;
      })
      .catch(function (error) {
        elements.report.hidden = false;
        elements.summary.textContent = '';
        showProblems([]);
        showMessage(error.message, 'error');
      });
  }

  function follow(id) {
    return PartnerDesk.graphql(PROGRESS, { id: id }).then(function (data) {
      var report = data.customerImport;
      showReport(report, false);
      if (report.status === 'RUNNING') {
        var done = report.created + report.updated + report.skipped;
        showMessage('Importing… ' + numbers.format(done) + ' of ' + numbers.format(report.rows) + ' rows');
        return new Promise(function (resolve) {
          setTimeout(resolve, POLL_MILLISECONDS);
        }).then(function () {
          return follow(id);
        });
      }
      if (report.status === 'DONE') showMessage('Done: the valid rows are imported.', 'done');
      else showMessage('The import stopped; the rows before the last problem were imported.', 'error');
    });
  }

  elements['import-file'].addEventListener('change', function () {
    file = elements['import-file'].files[0] || null;
    if (file) check();
  });

  elements.import.addEventListener('click', function () {
    elements.import.disabled = true;
    showMessage('Starting the import…');
    send(false)
      .then(function (started) {
        return follow(started.id);
      })
      .catch(function (error) {
        showMessage(error.message, 'error');
      });
  });

  var signedIn = Boolean(PartnerDesk.token());
  elements['signed-out'].hidden = signedIn;
  elements.importer.hidden = !signedIn;
})();
