package audit

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds the prepared statements a store keeps.
const maxCachedStmts = 32

// stmtCache keeps the writer's prepared statements, by query text, for a
// driver that would parse every statement again (modernc's SQLite; pgx
// caches statements itself). A query is prepared once it has been run
// twice, before the writer's next transaction (preparing on the pool inside
// one would wait for the connection the transaction holds).
type stmtCache struct {
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	seen  map[string]int // queries run without a prepared statement; -1: preparing failed
}

// exec runs query in tx, with its prepared statement when there is one.
func (c *stmtCache) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if c == nil {
		return tx.ExecContext(ctx, query, args...)
	}
	c.mu.Lock()
	st := c.stmts[query]
	if st == nil && c.seen[query] >= 0 {
		if c.seen == nil {
			c.seen = map[string]int{}
		}
		c.seen[query]++
	}
	c.mu.Unlock()
	if st == nil {
		return tx.ExecContext(ctx, query, args...)
	}
	return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// prepare prepares, on db, the queries run twice without a statement; call
// it outside any transaction of db's. A query that cannot be prepared is run
// as it is from then on (running it reports the error); one that ctx cut
// short is tried again next time.
func (c *stmtCache) prepare(ctx context.Context, db *sql.DB) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, n := range c.seen {
		if n < 2 || len(c.stmts) >= maxCachedStmts {
			continue
		}
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			if ctx.Err() != nil {
				return // out of time: try again before the next transaction
			}
			c.seen[q] = -1
			continue
		}
		if c.stmts == nil {
			c.stmts = map[string]*sql.Stmt{}
		}
		c.stmts[q] = st
		delete(c.seen, q)
	}
}

// close closes the statements.
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		_ = st.Close()
		delete(c.stmts, q)
	}
}
