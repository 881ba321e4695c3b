using System.Security.Cryptography;
using System.Text;
using Orchestration.ApiServer.Security.Authorization;

namespace Orchestration.ApiServer.Security.Tokens;

/// <summary>
/// kube-apiserver's static token file (<c>--token-auth-file</c>): a CSV of
/// <c>token,user,uid[,"group1,group2"]</c>, one credential per line, read at start. Tokens are
/// compared in constant time.
/// </summary>
public sealed class StaticTokens : ITokenAuthenticator
{
    private readonly List<(byte[] Token, UserInfo User)> _entries;

    private StaticTokens(List<(byte[] Token, UserInfo User)> entries) => _entries = entries;

    /// <summary>Reads the token file's text.</summary>
    /// <exception cref="FormatException">A line is not <c>token,user,uid[,groups]</c>; the message names it.</exception>
    public static StaticTokens Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var entries = new List<(byte[], UserInfo)>();
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var fields = SplitCsv(line);
            if (fields.Count < 3 || fields[0].Length == 0 || fields[1].Length == 0)
            {
                throw new FormatException($"line {number}: expected token,user,uid[,\"group1,group2\"]");
            }

            var groups = fields.Count > 3 ? fields[3].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
            entries.Add((Encoding.UTF8.GetBytes(fields[0]), UserInfo.Authenticated(fields[1], groups, fields[2])));
        }

        return new StaticTokens(entries);
    }

    /// <inheritdoc />
    public ValueTask<UserInfo?> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        var presented = Encoding.UTF8.GetBytes(token);
        UserInfo? found = null;
        foreach (var (known, user) in _entries)
        {
            if (CryptographicOperations.FixedTimeEquals(known, presented))
            {
                found = user;
            }
        }

        return ValueTask.FromResult(found);
    }

    // A CSV line with double-quoted fields ("a,b" is one field).
    private static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        var quoted = false;
        foreach (var c in line)
        {
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                fields.Add(current.ToString().Trim());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        fields.Add(current.ToString().Trim());
        return fields;
    }
}
