//! The context builder page: the browser reads a local folder, counts tokens and assembles a
//! context for the playground (`assets/context/`). The server only serves the page and its
//! modules; no folder name, size or content reaches it until the user runs a prompt. From a
//! run, the same page compares a folder with the run's context manifest.

use maud::{Markup, html};

use super::views::{Nav, layout};
use super::{PageCtx, WebState, paths};
use crate::auth::Action;
use crate::domain::ContextFile;
use crate::error::{Error, Result};
use crate::http::assets::module_url;
use crate::http::extract::Path;
use crate::http::routes::{Permission, Routes, WorkspaceAccess};
use crate::llm::pricing::PriceTable;
use crate::llm::tokens;
use axum::extract::State;

/// Adds the builder's pages.
pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    r.get(
        paths::CONTEXT,
        Permission::Instance(Action::UseWorkspaces),
        page,
    )
    .get(
        paths::WS_RUN_CONTEXT,
        Permission::Workspace(Action::ViewTemplates),
        again,
    )
}

async fn page(ctx: PageCtx) -> Result<Markup> {
    Ok(builder(&ctx, None))
}

/// The builder set to compare a folder with the context of a run in this workspace.
async fn again(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    Path((_, id)): Path<(String, String)>,
) -> Result<Markup> {
    let run = super::playground::workspace_run(&state, &access, &id).await?;
    let files: Vec<ContextFile> = run
        .context_manifest
        .and_then(|m| serde_json::from_value(m).ok())
        .ok_or(Error::NotFound)?;
    Ok(builder(&ctx, Some(&files)))
}

fn builder(ctx: &PageCtx, again: Option<&[ContextFile]>) -> Markup {
    let models = PriceTable::embedded_models();
    // JSON inside <script type="application/json">: `<` is escaped so no tag can close it.
    let again_json = again.map(|files| {
        serde_json::to_string(files)
            .unwrap_or_else(|_| "[]".into())
            .replace('<', "\\u003c")
    });
    let body = html! {
        div.page-head {
            h1 { "Context builder" }
        }
        div #context-builder data-worker=(module_url("context/worker.js")) {
            p.lead {
                "Choose a folder on this computer. It is read here, in the browser: nothing about it "
                "(not its name, not its files) is sent to the server until you run a prompt with the context."
            }
            @if let Some(files) = again {
                p #again-status.flash role="status" {
                    "Choose the folder of the earlier run again: its " (files.len()) " files are compared with what was sent then."
                }
                script #again-manifest type="application/json" { (maud::PreEscaped(again_json.unwrap_or_default())) }
            } @else {
                p #again-status.flash role="status" hidden {}
            }
            section.panel.stack {
                div.field-row.folder-pick {
                    button.button.primary #pick-folder type="button" hidden { "Choose a folder…" }
                    div.field {
                        label for="folder-input" { "Folder" }
                        input #folder-input type="file" webkitdirectory multiple;
                    }
                    div #drop-zone.drop-zone { "…or drop a folder here" }
                }
                div #remembered hidden {
                    p #remembered-text.muted {}
                    button.button.small #reopen type="button" hidden { "Read it again" }
                }
                div.field-row {
                    div.field {
                        label for="model" { "Count tokens for" }
                        select #model {
                            @for (id, _, price) in &models {
                                option value=(id) data-encoding=(tokens::for_model(id).name()) data-window=[price.context_window] selected[id == "gpt-4o"] { (id) }
                            }
                        }
                    }
                    div.field {
                        label for="format" { "Format" }
                        select #format {
                            option value="xml" { "XML (<file path=\"…\">)" }
                            option value="markdown" { "Markdown (fenced by language)" }
                        }
                    }
                    div.check { input #tree-header type="checkbox" checked; label for="tree-header" { "Start with a tree of the files" } }
                    div.check { input #show-ignored type="checkbox"; label for="show-ignored" { "Show ignored files" } }
                }
                p.muted.small {
                    "Ignored: the folder's .gitignore files, and .git, node_modules, build outputs and lock files. "
                    "Binary files are skipped; files over 256 KiB and files that look like they hold a credential start unselected."
                }
                p #folder-status role="status" {}
                progress #progress hidden {}
            }
            section.panel {
                h2 { "Files " span #folder-name.muted {} }
                ul #tree.file-tree {}
                p #totals.muted data-tokens="0" {}
                div.actions {
                    button.button.primary #build type="button" disabled { "Build the context" }
                    button.button.danger #forget type="button" disabled { "Forget this folder" }
                }
            }
            section.panel #built hidden {
                h2 { "Context" }
                p #output-total role="status" {}
                textarea #output.code rows="14" readonly aria-label="The built context" {}
                p { a.button href=(ctx.current_id().map(|id| paths::ws(paths::WS_PLAYGROUND, id)).unwrap_or_else(|| paths::HOME.to_owned())) { "Use it in the playground" } }
            }
        }
        script type="module" src=(module_url("context/builder.js")) {}
    };
    layout(ctx, "Context builder", Nav::Context, body)
}
