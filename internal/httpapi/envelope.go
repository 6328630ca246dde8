package httpapi

// Data is the body of a single-resource response: {"data": …}.
type Data[T any] struct {
	Data T `json:"data"`
}

// Response wraps a single resource for a huma handler's output.
type Response[T any] struct {
	Body Data[T]
}

// Created is Response with a 201 status, for POSTs that create.
type Created[T any] struct {
	Status int `json:"-"`
	Body   Data[T]
}

// OK wraps v as a 200 response.
func OK[T any](v T) *Response[T] { return &Response[T]{Body: Data[T]{Data: v}} }

// NewCreated wraps v as a 201 response.
func NewCreated[T any](v T) *Created[T] {
	return &Created[T]{Status: 201, Body: Data[T]{Data: v}}
}

// PageMeta describes one page of a list.
type PageMeta struct {
	Page    int `json:"page" doc:"The page returned, from 1."`
	PerPage int `json:"per_page" doc:"Items per page."`
	Total   int `json:"total" doc:"Items across all pages."`
}

// ListBody is the body of a list response: {"data": […], "meta": {…}}.
type ListBody[T any] struct {
	Data []T      `json:"data"`
	Meta PageMeta `json:"meta"`
}

// List is a huma output for a page of items.
type List[T any] struct {
	Body ListBody[T]
}

// Page limits.
const (
	DefaultPerPage = 20
	MaxPerPage     = 100
)

// PageParams are the query parameters of every list route. Embed it in an
// operation's input struct.
type PageParams struct {
	Page    int `query:"page" minimum:"1" default:"1" doc:"Page number, from 1."`
	PerPage int `query:"per_page" minimum:"1" maximum:"100" default:"20" doc:"Items per page (at most 100)."`
}

// Limit and Offset turn the page into SQL terms.
func (p PageParams) Limit() int {
	if p.PerPage < 1 {
		return DefaultPerPage
	}
	return min(p.PerPage, MaxPerPage)
}

// Offset is the number of items before this page.
func (p PageParams) Offset() int {
	page := max(p.Page, 1)
	return (page - 1) * p.Limit()
}

// NewList wraps one page of items with its meta. A nil slice is sent as [].
func NewList[T any](items []T, p PageParams, total int) *List[T] {
	if items == nil {
		items = []T{}
	}
	return &List[T]{Body: ListBody[T]{Data: items, Meta: PageMeta{Page: max(p.Page, 1), PerPage: p.Limit(), Total: total}}}
}
