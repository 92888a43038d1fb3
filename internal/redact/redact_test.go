package redact

import "testing"

func TestURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"postgres password", "postgres://alertbridge:s3cret@db:5432/alerts?sslmode=disable",
			"postgres://alertbridge:xxxxx@db:5432/alerts?sslmode=disable"},
		{"postgresql scheme", "postgresql://u:p@h/d", "postgresql://u:xxxxx@h/d"},
		{"user without password stays", "postgres://alertbridge@db/alerts", "postgres://alertbridge@db/alerts"},
		{"empty password is still a password", "postgres://u:@h/d", "postgres://u:xxxxx@h/d"},
		{"password in the query", "postgres://db/alerts?user=u&password=s3cret&sslmode=require",
			"postgres://db/alerts?user=u&password=xxxxx&sslmode=require"},
		{"sslpassword", "postgres://db/a?sslpassword=k", "postgres://db/a?sslpassword=xxxxx"},
		{"both", "postgres://u:p@db/a?password=q", "postgres://u:xxxxx@db/a?password=xxxxx"},
		{"token-like keys", "https://h/x?access_token=a&api_key=b&apiKey=c&client_secret=d&sig=e&page=2",
			"https://h/x?access_token=xxxxx&api_key=xxxxx&apiKey=xxxxx&client_secret=xxxxx&sig=xxxxx&page=2"},
		{"escaped key", "https://h/x?pass%77ord=s", "https://h/x?pass%77ord=xxxxx"},
		{"empty secret value", "https://h/x?token=&a=1", "https://h/x?token=&a=1"},
		{"query order and spelling kept", "https://h/x?b=2&a=1%2f&token=t", "https://h/x?b=2&a=1%2f&token=xxxxx"},
		{"fragment kept", "https://u:p@h/x?token=t#frag", "https://u:xxxxx@h/x?token=xxxxx#frag"},
		{"nothing to hide comes back unchanged", "https://api.atlassian.com/admin/v1/orgs/o/events?cursor=a%2Bb&limit=500",
			"https://api.atlassian.com/admin/v1/orgs/o/events?cursor=a%2Bb&limit=500"},
		{"sqlite path", "sqlite://./alertbridge.db", "sqlite://./alertbridge.db"},
		{"sqlite path with @ and :", "sqlite:///tmp/a:b@c.db", "sqlite:///tmp/a:b@c.db"},
		{"unparsable: @ in the password", "postgres://u:p@ss@db/alerts", "postgres://u:xxxxx@db/alerts"},
		{"unparsable: / in the password", "postgres://u:p/w@db:5432/alerts", "postgres://u:xxxxx@db:5432/alerts"},
		{"parses, but a digit password with /", "postgres://u:123/w@db/alerts", "postgres://u:xxxxx@db/alerts"},
		{"unparsable: bad port and a query secret", "postgres://u:p@db:port/a?password=q",
			"postgres://u:xxxxx@db:port/a?password=xxxxx"},
		{"unparsable without user info", "postgres://db:port/a?password=q&x=1", "postgres://db:port/a?password=xxxxx&x=1"},
		{"unknown scheme", "mysql://root:hunter2@h/db", "mysql://root:xxxxx@h/db"},
		{"not a URL", "not a url", "not a url"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("%s: URL(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}
