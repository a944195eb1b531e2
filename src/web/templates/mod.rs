//! Template pages: the list, the editor, a template's page, history and diffs.

mod editor;
mod form;
mod list;
mod view;

pub(crate) use editor::content_view;

use crate::auth::Action;
use crate::http::routes::{Permission, Routes};
use crate::web::{WebState, paths};

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    use Permission::{Instance, Template, Workspace};
    r.get(
        paths::WS_TEMPLATES,
        Workspace(Action::ViewTemplates),
        list::list_page,
    )
    .post(
        paths::WS_TEMPLATES,
        Workspace(Action::EditTemplates),
        editor::create,
    )
    .get(
        paths::WS_TEMPLATE_NEW,
        Workspace(Action::EditTemplates),
        editor::new_page,
    )
    .get(
        paths::WS_EXPORT,
        Workspace(Action::ViewTemplates),
        list::export_workspace,
    )
    .post(
        paths::WS_IMPORT,
        Workspace(Action::EditTemplates),
        list::import,
    )
    .get(
        paths::SYSTEM_TEMPLATE_NEW,
        Instance(Action::ManageSystemTemplates),
        editor::system_new_page,
    )
    .post(
        paths::SYSTEM_TEMPLATES,
        Instance(Action::ManageSystemTemplates),
        editor::system_create,
    )
    .post(
        paths::PREVIEW,
        Instance(Action::UseWorkspaces),
        editor::preview_json,
    )
    .get(
        paths::TEMPLATE,
        Template(Action::ViewTemplates),
        view::template_page,
    )
    .get(
        paths::TEMPLATE_EDIT,
        Template(Action::EditTemplates),
        editor::edit_page,
    )
    .post(
        paths::TEMPLATE_VERSIONS,
        Template(Action::EditTemplates),
        editor::save,
    )
    .get(
        paths::TEMPLATE_HISTORY,
        Template(Action::ViewTemplates),
        view::history_page,
    )
    .get(
        paths::TEMPLATE_DIFF,
        Template(Action::ViewTemplates),
        view::diff_page,
    )
    .post(
        paths::TEMPLATE_ROLLBACK,
        Template(Action::EditTemplates),
        view::rollback,
    )
    .post(
        paths::TEMPLATE_LABELS,
        Template(Action::LabelTemplates),
        view::set_label,
    )
    .post(
        paths::TEMPLATE_LABEL_DELETE,
        Template(Action::LabelTemplates),
        view::delete_label,
    )
    // Copying needs only read access here; the handler checks the target workspace.
    .post(
        paths::TEMPLATE_DUPLICATE,
        Template(Action::ViewTemplates),
        view::duplicate,
    )
    .post(
        paths::TEMPLATE_MOVE,
        Template(Action::EditTemplates),
        view::move_template,
    )
    .post(
        paths::TEMPLATE_DELETE,
        Template(Action::EditTemplates),
        view::delete,
    )
    .post(
        paths::TEMPLATE_RENDER,
        Template(Action::ViewTemplates),
        view::render,
    )
    .get(
        paths::TEMPLATE_EXPORT,
        Template(Action::ViewTemplates),
        view::export,
    )
}
