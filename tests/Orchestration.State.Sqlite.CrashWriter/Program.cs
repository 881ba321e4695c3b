// The child process of the SQLite crash test. Usage: CrashWriter DATA_DIR ROUND WRITERS
// Each writer keeps bumping a counter under its own key and prints "ack WRITER COUNTER REVISION"
// after every acknowledged write, until the test kills the process with SIGKILL.
using System.Globalization;
using System.Text;
using Orchestration.State.Sqlite;

var dataDirectory = args[0];
var round = int.Parse(args[1], CultureInfo.InvariantCulture);
var writers = int.Parse(args[2], CultureInfo.InvariantCulture);
var store = new SqliteStateStore(new SqliteStateStoreOptions { DataDirectory = dataDirectory, CompactionInterval = null });
var output = Console.Out;
output.WriteLine("ready");
await Task.WhenAll(Enumerable.Range(0, writers).Select(writer => Task.Run(async () =>
{
    var key = $"/crash/r{round}/w{writer}";
    var created = await store.CreateAsync(key, Encoding.UTF8.GetBytes("0"));
    var revision = created.Revision;
    lock (output)
    {
        output.WriteLine($"ack {writer} 0 {revision}");
    }

    for (var counter = 1; ; counter++)
    {
        var result = await store.UpdateAsync(key, Encoding.UTF8.GetBytes(counter.ToString(CultureInfo.InvariantCulture)), revision);
        if (!result.Succeeded)
        {
            Console.Error.WriteLine($"unexpected conflict on {key}");
            Environment.Exit(3);
        }

        revision = result.Revision;
        lock (output)
        {
            output.WriteLine($"ack {writer} {counter} {revision}");
        }
    }
})));
